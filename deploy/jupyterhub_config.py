# Register sharebot with JupyterHub: add these lines to your jupyterhub_config.py.
# sharebot runs as an external service (started by systemd, Kubernetes, ...); give it the
# same token in JUPYTERHUB_API_TOKEN. Generate one with `openssl rand -hex 32`.
import os

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

c.JupyterHub.services = [
    *c.JupyterHub.services,
    {
        "name": "sharebot",
        "api_token": os.environ["SHAREBOT_HUB_TOKEN"],
    },
]

# The least privilege sharebot needs:
#   shares             create and delete share codes, list and revoke shares
#                      (implies access:servers; narrow it, e.g. "shares!group=slack-sharing",
#                      so that only opted-in users' servers can be shared)
#   read:users:name    check that a hub user exists (admin `sharebot link`)
#   read:users:shares  see what a user has been given
#   list:users         find users (used by reconciliation in later releases)
#   read:servers       list a user's named servers, to refuse unknown `server:NAME`
c.JupyterHub.load_roles = [
    *c.JupyterHub.load_roles,
    {
        "name": "sharebot",
        "services": ["sharebot"],
        "scopes": ["shares", "read:users:name", "read:users:shares", "list:users", "read:servers"],
    },
]

# Accept links point at the hub; set public_url so the hub builds full links itself.
# c.JupyterHub.public_url = "https://hub.example.org"
