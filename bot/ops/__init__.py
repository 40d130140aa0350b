"""Operator tools behind the CLI: ``sharebot audit`` and ``sharebot check``."""
