"""The Bolt app: sharebot's listeners on one AsyncApp (used by the web and worker processes)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

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
    )
    return app
