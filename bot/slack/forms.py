"""The forms (pure): "Share my server" and "Request access" as Slack modals, and their
submissions read back into the command objects the slash command makes.

Every field is bounded (the inputs' ``max_length``, and again when read: a signed request
may carry anything); a duration is read by the command's own rule
(:func:`bot.domain.commands.parse_share_duration`), a notebook path by the caller's check
(the share use case's, :meth:`bot.app.sharing.Sharing.notebook_path`); the server is an
index into the servers the hub listed for the owner, sealed in the form
(:mod:`bot.domain.forms`). What is wrong comes back per field (``response_action:
errors``), keyed by block id.

A Slack user group or hub group field is left for the groups work (issue 18, "Groups").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
    UserMultiSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.domain import commands
from bot.domain.commands import MAX_NOTE, parse_share_duration
from bot.domain.forms import Sealed, duration_choices
from bot.domain.gate import MAX_PATH
from bot.errors import CommandError
from bot.slack import mrkdwn, texts

SHARE_SHORTCUT = "share_my_server"
AUTHOR_SHORTCUT = "share_with_author"
REQUEST_SHORTCUT = "request_access"
HOME_SHARE_ACTION = "home_open_share_form"
HOME_REQUEST_ACTION = "home_open_request_form"
SHARE_MODAL = "share_form"
REQUEST_MODAL = "request_form"
OWNER_ACTION = "owner_select"  # the request form's owner: picking one lists their servers

PEOPLE_BLOCK, PEOPLE_ACTION = "people", "people_select"
SERVER_BLOCK, SERVER_ACTION = "server", "server_select"
OWNER_BLOCK = "owner"
DURATION_BLOCK, DURATION_ACTION = "duration", "duration_choice"
TYPED_BLOCK, TYPED_ACTION = "duration_typed", "duration_text"
MANAGE_BLOCK, MANAGE_ACTION = "manage", "manage_check"
NOTE_BLOCK, NOTE_ACTION = "note", "note_text"
PATH_BLOCK, PATH_ACTION = "path", "path_text"
REASON_BLOCK, REASON_ACTION = "reason", "reason_text"

#: At most this many people per form (a Slack multi-select's max_selected_items).
MAX_PEOPLE = 20
#: Slack's limits: options in a static select, characters of an option's text.
MAX_OPTIONS = 100
_OPTION_TEXT = 75
_TYPED_DURATION = 40
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
_MANAGE = "manage"


def is_user_id(value: str) -> bool:
    return bool(_USER_ID.fullmatch(value))


#: The longest error shown under a field.
_ERROR_TEXT = 300


def bounded_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """``response_action: errors``'s map, each message cut to stay short."""
    return {block: mrkdwn.cut(text, _ERROR_TEXT) for block, text in errors.items()}


def home_buttons() -> ActionsBlock:
    """The Home tab's way to the forms."""
    return ActionsBlock(
        block_id="home-forms",
        elements=[
            ButtonElement(
                text=texts.HOME_SHARE_BUTTON, action_id=HOME_SHARE_ACTION, style="primary"
            ),
            ButtonElement(text=texts.HOME_REQUEST_BUTTON, action_id=HOME_REQUEST_ACTION),
        ],
    )


def loading(title: str) -> View:
    """What a form shows while the servers are read (views.open must follow the click
    within 3 seconds; the form replaces this with views.update)."""
    return _checked(
        View(
            type="modal",
            title=PlainTextObject(text=title),
            close=PlainTextObject(text="Close"),
            blocks=[SectionBlock(text=MarkdownTextObject(text=texts.FORM_LOADING))],
        )
    )


def message(title: str, text: str) -> View:
    """A form that cannot be filled in, saying why (not linked, the hub not answering)."""
    return _checked(
        View(
            type="modal",
            title=PlainTextObject(text=title),
            close=PlainTextObject(text="Close"),
            blocks=[SectionBlock(text=MarkdownTextObject(text=mrkdwn.cut(text, 3000)))],
        )
    )


def servers_that_fit(servers: Sequence[str]) -> tuple[str, ...]:
    """The servers a form lists: the first :data:`MAX_OPTIONS` (the default one first)."""
    return tuple(sorted(servers, key=lambda s: (s != "", s))[:MAX_OPTIONS])


@dataclass(frozen=True)
class Limits:
    """The workspace's durations: SHAREBOT_MAX_DURATION, SHAREBOT_ALLOW_UNTIL_REVOKED."""

    max_duration: timedelta
    allow_until_revoked: bool = False


@dataclass(frozen=True)
class Prefill:
    """What a form opened on a message starts with."""

    people: tuple[str, ...] = ()
    server: str | None = None
    path: str | None = None
    intro: str | None = None


def share_modal(
    metadata: str,
    servers: Sequence[str],
    limits: Limits,
    *,
    prefill: Prefill = Prefill(),
) -> View:
    """The "Share my server" form. ``servers``: as sealed in ``metadata`` (their order)."""
    out: list[Block] = []
    if prefill.intro:
        out.append(ContextBlock(elements=[MarkdownTextObject(text=prefill.intro)]))
    people = UserMultiSelectElement(
        action_id=PEOPLE_ACTION,
        placeholder="Pick people",
        max_selected_items=MAX_PEOPLE,
        initial_users=list(prefill.people) or None,
    )
    out.append(InputBlock(block_id=PEOPLE_BLOCK, label=texts.FORM_PEOPLE, element=people))
    out.append(_server_input(servers, prefill.server))
    out.extend(_duration_inputs(limits))
    manage = Option(value=_MANAGE, text=texts.FORM_MANAGE)
    out.append(
        InputBlock(
            block_id=MANAGE_BLOCK,
            label=texts.FORM_PERMISSIONS,
            optional=True,
            element=CheckboxesElement(action_id=MANAGE_ACTION, options=[manage]),
        )
    )
    out.append(_text_input(NOTE_BLOCK, NOTE_ACTION, texts.FORM_NOTE, MAX_NOTE, multiline=True))
    out.append(
        _text_input(
            PATH_BLOCK,
            PATH_ACTION,
            texts.FORM_PATH,
            MAX_PATH,
            hint=texts.FORM_PATH_HINT,
            initial=prefill.path,
        )
    )
    return _form(SHARE_MODAL, texts.SHARE_FORM_TITLE, texts.SHARE_FORM_SUBMIT, metadata, out)


def request_modal(
    metadata: str,
    limits: Limits,
    *,
    owner: str | None = None,
    servers: Sequence[str] = (),
    why_none: str | None = None,
) -> View:
    """The "Request access" form. Picking the owner (``owner_select``, dispatched at once)
    lists that owner's ``servers`` (as sealed in ``metadata``), or says ``why_none``."""
    picker = UserSelectElement(
        action_id=OWNER_ACTION, placeholder="Pick the owner", initial_user=owner
    )
    out: list[Block] = [
        InputBlock(
            block_id=OWNER_BLOCK, label=texts.FORM_OWNER, element=picker, dispatch_action=True
        )
    ]
    if owner and servers:
        out.append(
            ContextBlock(elements=[MarkdownTextObject(text=texts.form_owner_servers(owner))])
        )
        out.append(_server_input(servers, None))
    else:
        hint = mrkdwn.cut(why_none, 3000) if why_none else texts.FORM_PICK_OWNER
        out.append(ContextBlock(elements=[MarkdownTextObject(text=hint)]))
    out.extend(_duration_inputs(limits))
    out.append(
        _text_input(REASON_BLOCK, REASON_ACTION, texts.FORM_REASON, MAX_NOTE, multiline=True)
    )
    return _form(REQUEST_MODAL, texts.REQUEST_FORM_TITLE, texts.REQUEST_FORM_SUBMIT, metadata, out)


def _form(callback_id: str, title: str, submit: str, metadata: str, out: list[Block]) -> View:
    return _checked(
        View(
            type="modal",
            callback_id=callback_id,
            private_metadata=metadata,
            title=PlainTextObject(text=title),
            submit=PlainTextObject(text=submit),
            close=PlainTextObject(text="Cancel"),
            blocks=out,
        )
    )


def _server_input(servers: Sequence[str], chosen: str | None) -> InputBlock:
    options = [Option(value=str(n), text=_server_text(name)) for n, name in enumerate(servers)]
    index = list(servers).index(chosen) if chosen is not None and chosen in servers else 0
    return InputBlock(
        block_id=SERVER_BLOCK,
        label=texts.FORM_SERVER,
        element=StaticSelectElement(
            action_id=SERVER_ACTION, options=options, initial_option=options[index]
        ),
    )


def _server_text(name: str) -> str:
    if not name:
        return texts.FORM_DEFAULT_SERVER
    return name if len(name) <= _OPTION_TEXT else name[: _OPTION_TEXT - 1] + "…"


def _duration_inputs(limits: Limits) -> list[Block]:
    words = duration_choices(limits.max_duration, limits.allow_until_revoked)
    options = [Option(value=w, text=w) for w in words]
    initial = next((o for o in options if o.value == "1h"), options[0])
    return [
        InputBlock(
            block_id=DURATION_BLOCK,
            label=texts.FORM_DURATION,
            optional=True,
            element=StaticSelectElement(
                action_id=DURATION_ACTION, options=options, initial_option=initial
            ),
        ),
        _text_input(
            TYPED_BLOCK,
            TYPED_ACTION,
            texts.FORM_DURATION_TYPED,
            _TYPED_DURATION,
            hint=texts.FORM_DURATION_HINT,
        ),
    ]


def _text_input(
    block_id: str,
    action_id: str,
    label: str,
    max_length: int,
    *,
    multiline: bool = False,
    hint: str | None = None,
    initial: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        hint=hint,
        element=PlainTextInputElement(
            action_id=action_id,
            multiline=multiline,
            max_length=max_length,
            initial_value=initial[:max_length] if initial else None,
        ),
    )


def _checked(view: View) -> View:
    view.validate_json()
    return view


# -- reading a submission ------------------------------------------------------------------

#: ``(owner hub user, server, raw path)`` -> the path's error, or None when it is good.
PathCheck = Callable[[str, str, str], str | None]


@dataclass
class Read:
    """A submission read: the command it stands for, or what is wrong, per block id."""

    command: commands.Share | commands.Request | None = None
    errors: dict[str, str] = field(default_factory=dict)


def read_share(
    caller: str,
    sealed: Sealed | None,
    view: Mapping[str, Any],
    limits: Limits,
    *,
    check_path: PathCheck,
) -> Read:
    """The "Share my server" form as a :class:`~bot.domain.commands.Share` of the caller's."""
    if sealed is None:
        return Read(errors={PEOPLE_BLOCK: texts.FORM_STALE})
    values = _values(view)
    errors: dict[str, str] = {}
    people = _users(values, PEOPLE_BLOCK, PEOPLE_ACTION)
    if people is None or not people:
        errors[PEOPLE_BLOCK] = texts.FORM_BAD_PEOPLE
    elif len(people) > MAX_PEOPLE:
        errors[PEOPLE_BLOCK] = texts.form_too_many_people(MAX_PEOPLE)
    elif caller in people:
        errors[PEOPLE_BLOCK] = texts.self_share()
    server = sealed.server_at(_selected(values, SERVER_BLOCK, SERVER_ACTION))
    if server is None:
        errors[SERVER_BLOCK] = texts.FORM_BAD_SERVER
    duration = _duration(values, errors, limits)
    note = _text(values, NOTE_BLOCK, NOTE_ACTION, MAX_NOTE, errors)
    path = _text(values, PATH_BLOCK, PATH_ACTION, MAX_PATH, errors) or None
    if path is not None and server is not None:
        why = check_path(sealed.hub_user, server, path)
        if why is not None:
            errors[PATH_BLOCK] = why
    manage = _checked_box(values, MANAGE_BLOCK, MANAGE_ACTION)
    if errors or people is None or server is None or duration is None:
        return Read(errors=errors)
    share = commands.Share(tuple(people), duration, server, note, manage, path)
    return Read(command=share)


def read_request(
    caller: str,
    sealed: Sealed | None,
    view: Mapping[str, Any],
    limits: Limits,
) -> Read:
    """The "Request access" form as a :class:`~bot.domain.commands.Request` of the caller's."""
    if sealed is None:
        return Read(errors={OWNER_BLOCK: texts.FORM_STALE})
    values = _values(view)
    errors: dict[str, str] = {}
    owner = _user(values, OWNER_BLOCK, OWNER_ACTION)
    server: str | None = None
    if owner is None:
        errors[OWNER_BLOCK] = texts.FORM_BAD_PEOPLE
    elif owner == caller:
        errors[OWNER_BLOCK] = texts.self_request()
    elif owner != sealed.owner or not sealed.servers:
        errors[OWNER_BLOCK] = texts.FORM_OWNER_CHANGED
    else:
        server = sealed.server_at(_selected(values, SERVER_BLOCK, SERVER_ACTION))
        if server is None:
            errors[SERVER_BLOCK] = texts.FORM_BAD_SERVER
    duration = _duration(values, errors, limits)
    reason = _text(values, REASON_BLOCK, REASON_ACTION, MAX_NOTE, errors)
    if errors or owner is None or server is None or duration is None:
        return Read(errors=errors)
    return Read(command=commands.Request(owner, duration, server, reason))


def _values(view: Mapping[str, Any]) -> Mapping[str, Any]:
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    return values if isinstance(values, Mapping) else {}


def _field(values: Mapping[str, Any], block: str, action: str) -> Mapping[str, Any]:
    found = values.get(block)
    item = found.get(action) if isinstance(found, Mapping) else None
    return item if isinstance(item, Mapping) else {}


def _users(values: Mapping[str, Any], block: str, action: str) -> list[str] | None:
    """The people picked, in order, each once; None when something is not a user id."""
    raw = _field(values, block, action).get("selected_users")
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_PEOPLE * 2:
        return None
    people: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not _USER_ID.fullmatch(item):
            return None
        if item not in people:
            people.append(item)
    return people


def _user(values: Mapping[str, Any], block: str, action: str) -> str | None:
    raw = _field(values, block, action).get("selected_user")
    return raw if isinstance(raw, str) and _USER_ID.fullmatch(raw) else None


def _selected(values: Mapping[str, Any], block: str, action: str) -> str | None:
    option = _field(values, block, action).get("selected_option")
    value = option.get("value") if isinstance(option, Mapping) else None
    return value if isinstance(value, str) and len(value) <= _TYPED_DURATION else None


def _text(
    values: Mapping[str, Any], block: str, action: str, limit: int, errors: dict[str, str]
) -> str:
    raw = _field(values, block, action).get("value")
    if raw is None:
        return ""
    if not isinstance(raw, str):
        errors[block] = texts.FORM_STALE
        return ""
    text = raw.strip()
    if len(text) > limit:
        errors[block] = f"That is {len(text)} characters long; keep it to at most {limit}."
        return ""
    return text


def _checked_box(values: Mapping[str, Any], block: str, action: str) -> bool:
    options = _field(values, block, action).get("selected_options")
    if not isinstance(options, list):
        return False
    return any(isinstance(o, Mapping) and o.get("value") == _MANAGE for o in options[:5])


def _duration(
    values: Mapping[str, Any],
    errors: dict[str, str],
    limits: Limits,
) -> timedelta | None:
    """The typed duration, else the chosen one, by the command's rule; errors on the field
    it came from."""
    typed = _text(values, TYPED_BLOCK, TYPED_ACTION, _TYPED_DURATION, errors)
    if TYPED_BLOCK in errors:
        return None
    block, word = (TYPED_BLOCK, typed) if typed else (DURATION_BLOCK, None)
    if word is None:
        word = _selected(values, DURATION_BLOCK, DURATION_ACTION)
    if not word:
        errors[DURATION_BLOCK] = texts.FORM_NO_DURATION
        return None
    try:
        return parse_share_duration(
            word,
            max_duration=limits.max_duration,
            allow_until_revoked=limits.allow_until_revoked,
        )
    except CommandError as err:
        errors[block] = err.user_message
        return None
