"""sharebot: share JupyterHub servers from Slack, for a limited time."""

__version__ = "0.1.0"
