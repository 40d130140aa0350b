# Run sharebot as a hub-managed service: JupyterHub starts `sharebot serve` itself,
# restarts it if it exits, and sets JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN and
# JUPYTERHUB_CLIENT_ID for it. Add these lines to your jupyterhub_config.py (instead of
# jupyterhub_config.py from this directory, which is for a service started elsewhere).
#
# `sharebot` must be on the hub's PATH (install it into the hub's environment, or give the
# full path, e.g. /opt/sharebot/bin/sharebot). The Slack credentials are read from the
# hub's own environment. Before upgrading sharebot, run `sharebot migrate` with the same
# SHAREBOT_DATABASE_URL (sharebot refuses to start on an outdated schema).
import os

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

# The origin people open the hub at, and sharebot's URL behind the hub's proxy.
HUB_PUBLIC_URL = "https://hub.example.org"
SHAREBOT_PUBLIC_URL = HUB_PUBLIC_URL + "/services/sharebot/"
SHAREBOT_PORT = 8080

# Passed through from the hub's environment when set (see docs/configuration.md).
_optional = ("SLACK_APP_TOKEN", "SHAREBOT_MAX_DURATION", "SHAREBOT_INVITE_TTL")

c.JupyterHub.services.append(
    {
        "name": "sharebot",
        "command": ["sharebot", "serve"],
        # The hub's proxy forwards /services/sharebot/ here: the account-linking pages,
        # the OAuth callback, and Slack's requests at <SHAREBOT_PUBLIC_URL>slack/events.
        "url": f"http://127.0.0.1:{SHAREBOT_PORT}",
        "oauth_redirect_uri": SHAREBOT_PUBLIC_URL + "oauth_callback",
        "oauth_no_confirm": True,  # sharebot is part of the hub: no "authorize?" page
        "display": False,  # nothing to open at /services/sharebot/ itself
        # The SQLite database lives here; the directory must be writable by the user
        # the service runs as (the hub's user, or "user": "sharebot" when the hub runs
        # as root).
        "cwd": "/var/lib/sharebot",
        "environment": {
            "SLACK_BOT_TOKEN": os.environ["SLACK_BOT_TOKEN"],
            "SLACK_SIGNING_SECRET": os.environ["SLACK_SIGNING_SECRET"],
            "JUPYTERHUB_PUBLIC_URL": HUB_PUBLIC_URL,
            "SHAREBOT_PUBLIC_URL": SHAREBOT_PUBLIC_URL,
            "SHAREBOT_HOST": "127.0.0.1",
            "SHAREBOT_PORT": str(SHAREBOT_PORT),
            "SHAREBOT_DATABASE_URL": "sqlite:////var/lib/sharebot/sharebot.sqlite",
            **{name: os.environ[name] for name in _optional if os.environ.get(name)},
        },
    }
)

# The least privilege sharebot needs; deploy/jupyterhub_config.py explains each scope.
c.JupyterHub.load_roles.append(
    {
        "name": "sharebot",
        "services": ["sharebot"],
        "scopes": ["shares", "read:users:name", "read:users:shares", "list:users", "read:servers"],
    }
)
# Users log in to sharebot's account-linking page through the hub (OAuth), which needs
# access to the service. This replaces the default `user` role: keep "self".
c.JupyterHub.load_roles.append(
    {
        "name": "user",
        "scopes": ["self", "access:services!service=sharebot"],
    }
)

# Accept links point at the hub; set public_url so the hub builds full links itself.
# c.JupyterHub.public_url = HUB_PUBLIC_URL
