"""The grammar of ``/share-server``, parsed into small command objects.

Slack escapes mentions when the command has ``should_escape: true``: people arrive as
``<@U123|alice>`` or ``<@U123>``, channels as ``<#C123|general>``, user groups as
``<!subteam^S123|@team>`` and ``@here`` as ``<!here>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.durations import (
    UNTIL_REVOKED,
    UNTIL_REVOKED_WORD,
    check_share_duration,
    looks_like_duration,
    parse_duration,
)
from bot.errors import CommandError

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#(C[A-Z0-9]+)(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!([^>|]+)(?:\|[^>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>")
_SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_SERVER_PREFIX = "server:"
_GROUP_PREFIX = "group:"
_HUB_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")

#: The longest note or reason: it is shown in DMs and approval messages, escaped (up to five
#: characters each) within Slack's 3000 per section. Slack's own command limit is larger.
MAX_NOTE = 500

#: The most mentions (people and user groups) one command may carry; how many people a
#: share may reach once groups are expanded is SHAREBOT_MAX_RECIPIENTS (bot.app.groups).
MAX_MENTIONS = 1000


@dataclass(frozen=True)
class Help:
    """Show usage."""

    reason: str | None = None


@dataclass(frozen=True)
class ListShares:
    """Show the caller's shares and open invitations."""


@dataclass(frozen=True)
class Share:
    """Share the caller's ``server`` with ``recipients`` for ``duration`` (which may be
    ``UNTIL_REVOKED``)."""

    recipients: tuple[str, ...]
    duration: timedelta
    server: str = ""
    note: str = ""
    manage: bool = False  # also let them start and stop the server (needs approval)
    # ``path:lab/tree/x.ipynb`` or a pasted URL of a file on the server: where the recipient
    # lands after accepting (checked against the server by bot.domain.gate)
    path: str | None = None
    # Slack user groups (``S...``) mentioned: each member is shared with like a named person
    # (bot.app.groups expands them into ``recipients`` before anything is shared)
    groups: tuple[str, ...] = ()
    # a JupyterHub group (``group:physics-101``): one group share on the hub, no code, no DM
    hub_group: str | None = None


@dataclass(frozen=True)
class Request:
    """Ask ``owner`` for access to their ``server`` for ``duration``."""

    owner: str
    duration: timedelta
    server: str = ""
    reason: str = ""
    manage: bool = False
    path: str | None = None  # as for Share: where the requester lands after accepting


@dataclass(frozen=True)
class Revoke:
    """Revoke the caller's shares with ``recipients`` (empty means all) on ``server``."""

    recipients: tuple[str, ...]
    server: str = ""

    @property
    def everyone(self) -> bool:
        return not self.recipients


@dataclass(frozen=True)
class LinkAccount:
    """Start self-service linking of the caller's Slack and hub accounts."""


@dataclass(frozen=True)
class UnlinkAccount:
    """Remove the caller's link."""


@dataclass(frozen=True)
class WhoAmI:
    """Show the caller's link."""


Command = Help | ListShares | Share | Request | Revoke | LinkAccount | UnlinkAccount | WhoAmI

_NO_ARGUMENTS: dict[str, Command] = {
    "list": ListShares(),
    "link": LinkAccount(),
    "unlink": UnlinkAccount(),
    "whoami": WhoAmI(),
}


def parse_command(
    text: str, *, max_duration: timedelta, allow_until_revoked: bool = False
) -> Command:
    """Parse the text after ``/share-server``. Raises CommandError with a specific message.

    ``allow_until_revoked``: accept ``until-revoked`` as a duration (a share without an end).
    """
    limits = _Limits(max_duration, allow_until_revoked)
    words = text.split()
    if not words or words[0].lower() in {"help", "-h", "--help", "?"}:
        return Help()
    head = words[0].lower()
    if head in _NO_ARGUMENTS:
        if len(words) > 1:
            raise CommandError(f"`{head}` takes no arguments.")
        return _NO_ARGUMENTS[head]
    if head == "revoke":
        return _parse_revoke(words[1:])
    if head == "request":
        return _parse_request(words[1:], limits)
    if head.startswith(_GROUP_PREFIX):
        return _parse_hub_group(words, limits)
    if _mention(words[0]) is None and _subteam(words[0]) is None:
        _explain_bad_recipient(words[0])
        if looks_like_duration(words[0]):
            raise CommandError("Say who to share with first, e.g. `/share-server @alice 1h`.")
        raise CommandError(f"Unknown subcommand `{words[0]}`.")
    return _parse_share(words, limits)


@dataclass(frozen=True)
class _Limits:
    max_duration: timedelta
    allow_until_revoked: bool


def _parse_share(words: list[str], limits: _Limits) -> Share:
    recipients: list[str] = []
    groups: list[str] = []
    rest = list(words)
    while rest:
        if (user := _mention(rest[0])) is not None:
            if user not in recipients:
                recipients.append(user)
        elif (group := _subteam(rest[0])) is not None:
            if group not in groups:
                groups.append(group)
        else:
            break
        rest.pop(0)
        if len(recipients) + len(groups) > MAX_MENTIONS:
            raise CommandError(f"Mention at most {MAX_MENTIONS} people and groups at once.")
    duration, server, manage = _parse_terms(rest, limits, "/share-server @alice 1h")
    path = _take_path(rest)
    for word in rest:
        if _mention(word) is not None or _subteam(word) is not None:
            raise CommandError(
                "Put every person and group before the duration: `@alice @course-tas 1h`."
            )
    return Share(
        tuple(recipients), duration, server, _note(rest), manage, path, groups=tuple(groups)
    )


def _parse_hub_group(words: list[str], limits: _Limits) -> Share:
    """``group:NAME DURATION [server:NAME] [manage] [note]``: a hub group on its own."""
    rest = list(words)
    name = rest.pop(0)[len(_GROUP_PREFIX) :]
    if not _HUB_GROUP.fullmatch(name):
        raise CommandError(
            f"`{name}` is not a hub group name. Use `group:NAME` with letters, digits, "
            "`.`, `_`, `-`, e.g. `/share-server group:physics-101 2h`."
        )
    if rest and (_mention(rest[0]) or _subteam(rest[0]) or rest[0].lower().startswith("group:")):
        raise CommandError(
            "Share with a hub group on its own: `/share-server group:physics-101 2h`."
        )
    duration, server, manage = _parse_terms(rest, limits, "/share-server group:physics-101 2h")
    if _take_path(rest) is not None:
        raise CommandError(
            "A hub group gets no invitation to open, so no `path:`; share the link yourself."
        )
    return Share((), duration, server, _note(rest), manage, hub_group=name)


_PATH_PREFIX = "path:"


def _take_path(words: list[str]) -> str | None:
    """Remove a leading ``path:P`` or pasted link (``<https://…>``, ``<https://…|label>``)."""
    if not words:
        return None
    word = words[0]
    if word.lower().startswith(_PATH_PREFIX):
        words.pop(0)
        path = word[len(_PATH_PREFIX) :]
        if path.startswith("<") and path.endswith(">"):
            path = path[1:-1].split("|", 1)[0]
        if not path:
            raise CommandError("Give the file after `path:`, e.g. `path:lab/tree/analysis.ipynb`.")
        return path
    if word.startswith("<http") and word.endswith(">"):
        words.pop(0)
        return word[1:-1].split("|", 1)[0]
    return None


def _parse_request(words: list[str], limits: _Limits) -> Request:
    rest = list(words)
    if not rest:
        raise CommandError("Say whose server you need: `/share-server request @bob 1h`.")
    owner = _mention(rest[0])
    if owner is None:
        _explain_bad_recipient(rest[0])
        raise CommandError("Mention the owner first: `/share-server request @bob 1h`.")
    rest.pop(0)
    if rest and _mention(rest[0]) is not None:
        raise CommandError("Ask one owner at a time: `/share-server request @bob 1h`.")
    duration, server, manage = _parse_terms(rest, limits, "/share-server request @bob 1h")
    path = _take_path(rest)
    return Request(owner, duration, server, _note(rest), manage, path)


def _note(words: list[str]) -> str:
    note = " ".join(words)
    if len(note) > MAX_NOTE:
        raise CommandError(
            f"The note is {len(note)} characters long; keep it to at most {MAX_NOTE} characters."
        )
    return note


def _parse_terms(rest: list[str], limits: _Limits, example: str) -> tuple[timedelta, str, bool]:
    """Take ``[server:NAME] DURATION [server:NAME] [manage]`` off the front of ``rest``."""
    server = _take_server(rest)
    if not rest:
        raise CommandError(f"Say for how long, e.g. `{example}`.")
    if rest[0].lower() != UNTIL_REVOKED_WORD and not looks_like_duration(rest[0]):
        _explain_bad_recipient(rest[0])
    duration = parse_share_duration(
        rest[0], max_duration=limits.max_duration, allow_until_revoked=limits.allow_until_revoked
    )
    rest.pop(0)
    manage = False
    while rest:
        if server is None and (named := _take_server(rest)) is not None:
            server = named
        elif rest[0].lower() == "manage" and not manage:
            manage = True
            rest.pop(0)
        else:
            break
    return duration, server or "", manage


def parse_share_duration(
    word: str, *, max_duration: timedelta, allow_until_revoked: bool = False
) -> timedelta:
    """One share's duration as typed (``2h30m``, or ``until-revoked`` where allowed), within
    [1m, ``max_duration``]: the command's rule, also the forms' (bot.slack.forms)."""
    if word.lower() == UNTIL_REVOKED_WORD:
        if not allow_until_revoked:
            raise CommandError(
                "Shares without an end are not enabled here; give a duration like `1d`. "
                "(A hub admin can allow them with SHAREBOT_ALLOW_UNTIL_REVOKED.)"
            )
        return UNTIL_REVOKED
    if not looks_like_duration(word):
        raise CommandError(f"`{word}` is not a duration. Use forms like `30m`, `1h`, `2h30m`.")
    duration = parse_duration(word)
    check_share_duration(duration, max_duration)
    return duration


def _parse_revoke(words: list[str]) -> Revoke:
    rest = list(words)
    server = _take_server(rest)
    if rest and rest[0].lower() == "all":
        rest.pop(0)
        server = server if server is not None else _take_server(rest)
        if rest:
            raise CommandError("`revoke all` takes only an optional `server:NAME`.")
        return Revoke((), server or "")
    recipients: list[str] = []
    while rest and (user := _mention(rest[0])) is not None:
        if user not in recipients:
            recipients.append(user)
        rest.pop(0)
    if server is None:
        server = _take_server(rest)
    if rest:
        _explain_bad_recipient(rest[0])
        raise CommandError(f"I don't understand `{rest[0]}` here.")
    if not recipients:
        raise CommandError("Say whose access to revoke: `revoke @alice` or `revoke all`.")
    return Revoke(tuple(recipients), server or "")


def _mention(word: str) -> str | None:
    match = _USER.fullmatch(word)
    return match.group(1) if match else None


def _subteam(word: str) -> str | None:
    """The id of a Slack user group mention (``<!subteam^S123|@team>``)."""
    match = _SUBTEAM.fullmatch(word)
    return match.group(1) if match else None


def _take_server(words: list[str]) -> str | None:
    """Remove a leading ``server:NAME`` from ``words`` and return NAME."""
    if not words or not words[0].lower().startswith(_SERVER_PREFIX):
        return None
    name = words.pop(0)[len(_SERVER_PREFIX) :]
    if not _SERVER_NAME.fullmatch(name):
        raise CommandError(
            f"`{name}` is not a server name. Use `server:NAME` with letters, digits, `.`, `_`, `-`."
        )
    return name


def _explain_bad_recipient(word: str) -> None:
    """Raise a specific error for things that look like recipients but are not people."""
    if _CHANNEL.fullmatch(word):
        raise CommandError("That is a channel. Share with people: mention each one, like `@alice`.")
    special = _SPECIAL.fullmatch(word)
    if special:
        what = special.group(1)
        if what.startswith("subteam^"):
            raise CommandError(
                "A user group can be shared with (`/share-server @team 2h`), not here; "
                "mention each person."
            )
        raise CommandError(f"`@{what}` is not a person; mention each person, like `@alice`.")
    if word.startswith("@"):
        raise CommandError(
            f"I could not read `{word}` as a Slack user. Pick the person from Slack's "
            "autocomplete so the mention turns blue."
        )
