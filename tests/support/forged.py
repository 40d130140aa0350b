"""Requests that look like Slack's but are not: for the security tests and the fault benchmark.

Each kind takes a body sharebot would act on if it were genuine and returns the headers an
attacker could send with it (and the body, which one kind alters). Slack's rule
(https://api.slack.com/authentication/verifying-requests-from-slack): the signature is
``v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")`` and the timestamp must be within 5 minutes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from urllib.parse import urlencode

from tests.support.app import SIGNING_SECRET, new_trigger_id, sign

Forgery = Callable[[str], tuple[str, dict[str, str]]]


def _without(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in names}


def _replayed(body: str) -> tuple[str, dict[str, str]]:
    """A genuine request captured 10 minutes ago, sent again with a fresh timestamp."""
    old = sign(body, timestamp=int(time.time()) - 600)
    return body, {**old, "X-Slack-Request-Timestamp": str(int(time.time()))}


def _tampered(body: str) -> tuple[str, dict[str, str]]:
    """Signed for one body, sent with another (a changed command text)."""
    return body.replace("text=", "text=revoke+all+", 1) + "&x=1", sign(body)


FORGERIES: dict[str, Forgery] = {
    "forged signature": lambda body: (
        body,
        {**sign(body), "X-Slack-Signature": "v0=" + secrets.token_hex(32)},
    ),
    "wrong secret": lambda body: (body, sign(body, secret="not-" + SIGNING_SECRET)),
    "stale timestamp (6 min)": lambda body: (body, sign(body, timestamp=int(time.time()) - 360)),
    "future timestamp (6 min)": lambda body: (body, sign(body, timestamp=int(time.time()) + 360)),
    "replayed, new timestamp": _replayed,
    "body changed after signing": _tampered,
    "timestamp not a number": lambda body: (
        body,
        {**sign(body), "X-Slack-Request-Timestamp": "now"},
    ),
    "no signature header": lambda body: (body, _without(sign(body), "X-Slack-Signature")),
    "no timestamp header": lambda body: (body, _without(sign(body), "X-Slack-Request-Timestamp")),
    "no Slack headers": lambda body: (
        body,
        _without(sign(body), "X-Slack-Signature", "X-Slack-Request-Timestamp"),
    ),
}


def share_command(user: str, text: str, response_url: str) -> str:
    """The form body of a ``/share-server`` slash command."""
    return urlencode(
        {
            "token": "unused-verification-token",
            "team_id": "T0TEST",
            "channel_id": "C0GENERAL",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/share-server",
            "text": text,
            "api_app_id": "A0SHAREBOT",
            "response_url": response_url,
            "trigger_id": new_trigger_id(),
        }
    )
