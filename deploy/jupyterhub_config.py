# Register sharebot with JupyterHub: add these lines to your jupyterhub_config.py.
# sharebot runs as an external service (started by systemd, Kubernetes, ...); give it the
# same token in JUPYTERHUB_API_TOKEN. Generate one with `openssl rand -hex 32`.
# For a service the hub starts itself, see jupyterhub_config.managed.py instead.
import os

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

# sharebot's public URL: the hub's public origin + /services/sharebot/. Set sharebot's
# SHAREBOT_PUBLIC_URL to the same value.
SHAREBOT_PUBLIC_URL = "https://hub.example.org/services/sharebot/"

c.JupyterHub.services.append(
    {
        "name": "sharebot",
        "api_token": os.environ["SHAREBOT_HUB_TOKEN"],
        # Where sharebot listens (SHAREBOT_HOST:SHAREBOT_PORT). With `url` set, the hub's
        # proxy forwards /services/sharebot/ to it: the account-linking pages, the OAuth
        # callback, and Slack's requests at <SHAREBOT_PUBLIC_URL>slack/events.
        "url": "http://127.0.0.1:8080",
        "oauth_redirect_uri": SHAREBOT_PUBLIC_URL + "oauth_callback",
        "oauth_no_confirm": True,  # sharebot is part of the hub: no "authorize?" page
        "display": False,  # nothing to open at /services/sharebot/ itself
    }
)

# The least privilege sharebot needs:
#   shares             create and delete share codes, list and revoke shares
#                      (implies access:servers; narrow it, e.g. "shares!group=slack-sharing",
#                      so that only opted-in users' servers can be shared)
#   read:users:name    check that a hub user exists (admin `sharebot link`)
#   read:users:shares  see what a user has been given
#   list:users         find users (used by reconciliation in later releases)
#   read:servers       list a user's named servers, to refuse unknown `server:NAME`
# Optional, add them to the list for these features:
#   servers              `manage` shares (start/stop rights for the recipient)
#   read:users:activity  recipients' last activity in the digest
#   read:groups:name     shares with hub groups (`/share-server group:NAME`)
c.JupyterHub.load_roles.append(
    {
        "name": "sharebot",
        "services": ["sharebot"],
        "scopes": ["shares", "read:users:name", "read:users:shares", "list:users", "read:servers"],
    }
)
# Users log in to sharebot's account-linking page through the hub (OAuth), which needs
# access to the service. This replaces the default `user` role: keep "self", and merge
# it into your own `user` role if you define one.
c.JupyterHub.load_roles.append(
    {
        "name": "user",
        "scopes": ["self", "access:services!service=sharebot"],
    }
)

# Accept links point at the hub; set public_url so the hub builds full links itself.
# c.JupyterHub.public_url = "https://hub.example.org"
