"""The sandbox: a throwaway JupyterHub, a Slack stand-in and sharebot started together
(the demo, bench/ and the integration tests build on it: bot.sandbox.stack)."""
