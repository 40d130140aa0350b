"""The Bolt app: sharebot's listeners on one AsyncApp (used by the web and worker processes)."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger import messages as bolt_messages

from bot.domain.forms import form_key
from bot.runtime import Runtime
from bot.slack.identity import SlackIdentity, same_workspace_middleware
from bot.slack.listeners import Services, register_all
from bot.slack.messenger import without_session
from bot.web.handoff import LocalRunner


def create_bolt_app(
    runtime: Runtime,
    *,
    verify_signatures: bool = True,
    lazy_runner: LocalRunner | None = None,
    identity: SlackIdentity | None = None,
) -> AsyncApp:
    """The Bolt app. Each listener acks first and leaves its work to ``lazy_runner``
    (:mod:`bot.web.handoff`; a task of this process by default). With ``identity``, requests
    naming another workspace or app are acknowledged and go no further
    (:mod:`bot.slack.identity`)."""
    settings = runtime.settings
    _quiet_token_warning()
    app = AsyncApp(
        client=without_session(runtime.messenger.client),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # The ack function runs inline and answers at once; the lazy work runs after it.
        # (With False, Bolt polls every 10 ms for the listener's ack() instead.)
        process_before_response=True,
        request_verification_enabled=verify_signatures,
    )
    app.listener_runner.lazy_listener_runner = lazy_runner or LocalRunner(app.logger)
    if identity is not None:
        app.middleware(same_workspace_middleware(identity))
    services = Services(
        sharing=runtime.sharing,
        decisions=runtime.decisions,
        linking=runtime.linking,
        digest=runtime.digest,
        flags=runtime.flags,
        home=runtime.home,
        messenger=runtime.messenger,
        replays=runtime.replays,
    )
    register_all(
        app,
        services,
        max_duration=settings.max_duration,
        allow_until_revoked=settings.allow_until_revoked,
        form_key=form_key(settings.slack_signing_secret.get_secret_value()),
    )
    return app


class _TokenGivenTwice(logging.Filter):
    """Drops Bolt's "As you gave `client` as well, `token` will be unused." and nothing else.

    Bolt reads SLACK_BOT_TOKEN from the environment by itself when no ``token`` is passed,
    and warns that it will not use it once it is given ``client``. sharebot gives Bolt the
    client made from the same setting (its base URL, retries and timeout), so the warning
    is true of every start and says nothing.
    """

    TEXT = bolt_messages.warning_client_prioritized_and_token_skipped()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.TEXT


def _quiet_token_warning() -> None:
    bolt_logger = logging.getLogger(f"slack_bolt.{AsyncApp.__name__}")  # Bolt's own logger
    if not any(isinstance(f, _TokenGivenTwice) for f in bolt_logger.filters):
        bolt_logger.addFilter(_TokenGivenTwice())
