"""The forms: "Share my server" (a global shortcut and the Home tab's button), "Share my
server with the author" (a message shortcut: the author and a notebook link pre-filled)
and "Request access" (a global shortcut and the Home tab's button; picking the owner lists
their servers with views.update).

Opening: the form opens at once (views.open must follow within 3 seconds of the click)
showing that the servers are being read, then becomes the form (views.update). Submitting:
the acknowledgement says what is wrong, per field (``response_action: errors``); a good
submission closes the form and runs the command's own use case
(:meth:`~bot.app.decisions.DecisionService.share_or_hold` or ``request``), whose answer
comes by DM. Every submission and click is checked against the form's sealed memory
(:mod:`bot.domain.forms`): only whoever opened it, only the servers the hub listed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.app.outcomes import Refused
from bot.clock import utcnow
from bot.domain import commands
from bot.domain import forms as sealing
from bot.domain.forms import Sealed
from bot.errors import SharebotError
from bot.slack import forms, texts
from bot.slack.listeners.common import Services, ack_only, answer, once
from bot.slack.replies import reply

log = logging.getLogger(__name__)

SHARE, REQUEST = "share", "request"


def register(
    app: AsyncApp,
    services: Services,
    *,
    max_duration: timedelta,
    allow_until_revoked: bool,
    key: bytes,
) -> None:
    sharing = services.sharing
    messenger = services.messenger
    limits = forms.Limits(max_duration, allow_until_revoked)

    def seal(data: Sealed) -> str:
        return sealing.seal(data, key)

    def unseal(body: dict[str, Any], view: dict[str, Any], kind: str) -> Sealed | None:
        return sealing.unseal(
            view.get("private_metadata"), key, user=_user(body), kind=kind, now=utcnow()
        )

    # -- Share my server ---------------------------------------------------------------------

    async def open_share_form(body: dict[str, Any]) -> None:
        caller = _user(body)
        view_id = await _open(body, texts.SHARE_FORM_TITLE)
        if view_id is None:
            return
        try:
            view = await share_form(caller, body.get("message"), utcnow())
        except SharebotError as err:
            log.info("share form for %s: %s", caller, err)
            view = forms.message(texts.SHARE_FORM_TITLE, reply(err))
        await _show(view_id, view)

    async def _open(body: dict[str, Any], title: str) -> str | None:
        """Open the form showing that it is loading; None when Slack would not (the click's
        trigger is valid for 3 seconds only)."""
        try:
            return await messenger.open_view(
                str(body.get("trigger_id") or ""), forms.loading(title)
            )
        except SharebotError as err:
            log.warning("a form for %s did not open: %s", _user(body), err)
            return None

    async def _show(view_id: str, view: Any) -> None:
        try:
            await messenger.update_view(view_id, view)
        except SharebotError as err:  # closed meanwhile, or Slack away: nothing to show it in
            log.warning("form %s not filled in: %s", view_id, err)

    async def share_form(caller: str, message: object, now: datetime) -> Any:
        owner_hub = await sharing.hub_user_of(caller)
        if owner_hub is None:
            return forms.message(texts.SHARE_FORM_TITLE, texts.not_linked_caller())
        servers = forms.servers_that_fit(await sharing.hub.server_names(owner_hub))
        prefill = forms.Prefill()
        if isinstance(message, dict):
            prefill = _from_message(caller, message, owner_hub, servers, sharing.public_url)
        metadata, sealed = sealing.seal_fitting(
            Sealed(caller, SHARE, int(now.timestamp()), owner_hub, servers), key
        )
        return forms.share_modal(metadata, sealed.servers, limits, prefill=prefill)

    for shortcut in (forms.SHARE_SHORTCUT, forms.AUTHOR_SHORTCUT):
        app.shortcut(shortcut)(ack=ack_only, lazy=[once(services, open_share_form)])
    app.action(forms.HOME_SHARE_ACTION)(ack=ack_only, lazy=[once(services, open_share_form)])

    def path_error(owner_hub: str, server: str, raw: str) -> str | None:
        try:
            sharing.notebook_path(owner_hub, server, raw)
        except Refused as err:
            return reply(err)
        return None

    def read_share(body: dict[str, Any], view: dict[str, Any]) -> forms.Read:
        return forms.read_share(
            _user(body), unseal(body, view, SHARE), view, limits, check_path=path_error
        )

    async def share_submitted_ack(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        await _answer_submission(ack, read_share(body, view))

    async def share_submitted(body: dict[str, Any], view: dict[str, Any]) -> None:
        read = read_share(body, view)
        if read.command is None or not isinstance(read.command, commands.Share):
            return  # the acknowledgement showed what is wrong
        caller = _user(body)
        work = services.decisions.share_or_hold(caller, read.command, utcnow())
        await messenger.notify(caller, await answer(f"share form from {caller}", work))

    app.view(forms.SHARE_MODAL)(ack=share_submitted_ack, lazy=[once(services, share_submitted)])

    # -- Request access ----------------------------------------------------------------------

    async def open_request_form(body: dict[str, Any]) -> None:
        caller = _user(body)
        view_id = await _open(body, texts.REQUEST_FORM_TITLE)
        if view_id is None:
            return
        if await sharing.hub_user_of(caller) is None:
            view = forms.message(texts.REQUEST_FORM_TITLE, texts.not_linked_caller())
        else:
            metadata = seal(Sealed(caller, REQUEST, int(utcnow().timestamp())))
            view = forms.request_modal(metadata, limits)
        await _show(view_id, view)

    app.shortcut(forms.REQUEST_SHORTCUT)(ack=ack_only, lazy=[once(services, open_request_form)])
    app.action(forms.HOME_REQUEST_ACTION)(ack=ack_only, lazy=[once(services, open_request_form)])

    async def owner_picked(body: dict[str, Any]) -> None:
        """The owner picked in the request form: the form again, with that owner's servers
        (only for whoever opened it, and only in the version of the form that was clicked:
        Slack refuses the update, by its hash, once the form changed since)."""
        view = body.get("view")
        if not isinstance(view, dict) or unseal(body, view, REQUEST) is None:
            log.info("an owner picked in a request form that is not the clicker's")
            return
        caller = _user(body)
        owner = str(body["actions"][0].get("selected_user") or "")
        now = utcnow()
        servers: tuple[str, ...] = ()
        owner_hub = ""
        why: str | None = None
        if not forms.is_user_id(owner):
            why = texts.FORM_PICK_OWNER
        elif owner == caller:
            why = texts.self_request()
        else:
            owner_hub = await sharing.hub_user_of(owner) or ""
            if not owner_hub:
                why = texts.not_linked_recipients([owner])
            else:
                try:
                    servers = forms.servers_that_fit(await sharing.hub.server_names(owner_hub))
                except SharebotError as err:
                    log.info("request form: servers of %s: %s", owner_hub, err)
                    why = reply(err)
        metadata, sealed = sealing.seal_fitting(
            Sealed(caller, REQUEST, int(now.timestamp()), owner_hub, servers, owner), key
        )
        form = forms.request_modal(
            metadata, limits, owner=owner or None, servers=sealed.servers, why_none=why
        )
        try:
            await messenger.update_view(str(view.get("id") or ""), form, view.get("hash"))
        except SharebotError as err:  # a newer pick already changed the form: it stays
            log.info("request form of %s not updated: %s", caller, err)

    app.action(forms.OWNER_ACTION)(ack=ack_only, lazy=[once(services, owner_picked)])

    def read_request(body: dict[str, Any], view: dict[str, Any]) -> forms.Read:
        return forms.read_request(_user(body), unseal(body, view, REQUEST), view, limits)

    async def request_submitted_ack(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        await _answer_submission(ack, read_request(body, view))

    async def request_submitted(body: dict[str, Any], view: dict[str, Any]) -> None:
        read = read_request(body, view)
        if read.command is None or not isinstance(read.command, commands.Request):
            return
        caller = _user(body)
        work = services.decisions.request(caller, read.command, utcnow())
        await messenger.notify(caller, await answer(f"request form from {caller}", work))

    app.view(forms.REQUEST_MODAL)(
        ack=request_submitted_ack, lazy=[once(services, request_submitted)]
    )


async def _answer_submission(ack: AsyncAck, read: forms.Read) -> None:
    if read.errors:
        await ack(response_action="errors", errors=forms.bounded_errors(read.errors))
    else:
        await ack()


def _user(body: dict[str, Any]) -> str:
    user = body.get("user")
    return str(user.get("id") or "") if isinstance(user, dict) else str(user or "")


def _from_message(
    caller: str,
    message: dict[str, Any],
    owner_hub: str,
    servers: tuple[str, ...],
    hub_origin: str,
) -> forms.Prefill:
    """The author (unless a bot or the caller) and a notebook link in the message."""
    author = message.get("user")
    person = (
        author
        if isinstance(author, str)
        and forms.is_user_id(author)
        and author != caller
        and not message.get("bot_id")
        else None
    )
    text = message.get("text")
    found = sealing.notebook_in(
        text if isinstance(text, str) else "",
        owner_hub=owner_hub,
        servers=servers,
        hub_origin=hub_origin,
    )
    server, path = found if found is not None else (None, None)
    return forms.Prefill(
        people=(person,) if person else (),
        server=server,
        path=path,
        intro=texts.form_from_message(person, path),
    )
