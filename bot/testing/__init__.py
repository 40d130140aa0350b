"""Test support code for sharebot (fakes of external services; not used in production)."""
