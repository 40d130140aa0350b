"""sharebot's errors.

Every failure that crosses a module boundary is one of these, carrying a short message
a person can act on. Adapters turn outside failures (httpx, Slack, SQL) into them; the
listeners show ``user_message`` and the logs get the detail.

    SharebotError
    ├── ConfigError          a setting is missing or invalid (stops start-up)
    ├── CommandError         the slash command text cannot be understood
    ├── ShareRefused         the request is understood but not allowed
    │   └── NotLinked        a Slack user has no hub account mapped
    ├── HubError             JupyterHub failed us
    │   ├── HubUnavailable   cannot connect, timed out, 5xx
    │   ├── HubAuthError     401/403: the service token or its role is wrong
    │   └── HubNotFound      404: the user, server or share does not exist
    ├── SlackDeliveryError   the Slack Web API refused or failed a call
    ├── DatabaseError        the database cannot be opened or written (a missing folder,
    │                        no permission, a driver not installed)
    ├── SchemaError          the database schema is not at the code's revision
    ├── ListenError          ``serve`` cannot listen on SHAREBOT_HOST:SHAREBOT_PORT
    └── WorkerError          the worker process (SHAREBOT_WORKER_PROCESS) did not start
"""

from __future__ import annotations


class SharebotError(Exception):
    """Base class. ``str(err)`` is safe to log; ``user_message`` is safe to show."""

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        self.user_message = user_message or message


class ConfigError(SharebotError):
    """A setting is missing or invalid."""


class CommandError(SharebotError):
    """The command text could not be parsed; the message says what was wrong."""


class ShareRefused(SharebotError):
    """The command is valid but cannot be carried out (policy, self-share, ...)."""


class NotLinked(ShareRefused):
    """One or more Slack users are not mapped to hub users."""

    def __init__(self, slack_user_ids: list[str], message: str) -> None:
        super().__init__(message)
        self.slack_user_ids = slack_user_ids


class HubError(SharebotError):
    """JupyterHub answered with an error or could not be reached."""

    def __init__(
        self, message: str, *, status: int | None = None, user_message: str | None = None
    ) -> None:
        super().__init__(message, user_message=user_message)
        self.status = status


class HubUnavailable(HubError):
    """Connection failed, timed out, or the hub answered 5xx."""


class HubAuthError(HubError):
    """The hub refused the service token (401) or its scopes (403)."""


class HubNotFound(HubError):
    """The user, server or share does not exist (404)."""


class SlackDeliveryError(SharebotError):
    """A Slack Web API call failed.

    ``code`` is Slack's error code (``user_not_found``, ``ratelimited``, ...) when Slack
    answered, None when it could not be reached; ``retry_after`` is Slack's ``Retry-After``
    (seconds) on a 429.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        user_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, user_message=user_message)
        self.code = code
        self.retry_after = retry_after


class DatabaseError(SharebotError):
    """The database of SHAREBOT_DATABASE_URL cannot be opened or written; the message says
    what to change."""


class SchemaError(SharebotError):
    """The database is behind (or ahead of) the code."""


class ListenError(SharebotError):
    """The address SHAREBOT_HOST:SHAREBOT_PORT cannot be listened on (in use, not this
    host's, not allowed)."""


class WorkerError(SharebotError):
    """The worker process exited or did not answer at start-up; its own log says why."""
