"""Fuzzing ``/slack/events`` of a running ``sharebot serve`` with hypothesis: bodies shaped
like every kind Slack sends (slash commands, block_actions, view_submission, event_callback,
url_verification) with random and malformed values, as forms, JSON or raw bytes.

* Without a valid signature (forged, wrong secret, stale, missing headers, body changed):
  always 401 or 413, and nothing changes: no grants or decisions rows, no call to Slack.
* Signed: never a 500.
* Either way: never a traceback in sharebot's log, and its peak memory stays bounded.

One app per test, one kept-alive HTTP client; ~150 examples each, about half a minute.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks, home_view
from bot.web.limits import MIB
from tests.support.app import SIGNING_SECRET, RunningApp, sign
from tests.support.observe import decisions
from tests.support.processes import reset_peak, vm_hwm
from tests.support.stories import grants

pytestmark = pytest.mark.integration

EXAMPLES = 150
MEMORY_ALLOWANCE = 40 * MIB

#: Every action id and modal callback id the listeners know.
KNOWN_IDS = sorted(
    value
    for module in (blocks, home_view)
    for name, value in vars(module).items()
    if isinstance(value, str) and name.endswith(("_ACTION", "_MODAL"))
)

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- strategies -------------------------------------------------------------------------------

junk: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
user_ids = st.sampled_from(["UOWNER", "UALICE", "UBOB", "UFUZZ", "", "U" + "9" * 40]) | st.text(
    max_size=20
)
texts = st.sampled_from(
    [
        "<@UALICE> 1h",
        "<@UALICE|alice> server:gpu 2h read",
        "request <@UOWNER> 30m",
        "help",
        "list",
        "link",
        "revoke all",
        "<!channel> 1h",
        "<@UALICE> until-revoked",
        "",
    ]
) | st.text(max_size=120)
teams = st.sampled_from(["T0TEST"] * 8 + ["T0OTHER", ""])


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside ``value`` (dicts and lists)."""
    found: list[tuple[Any, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found.append((*path, key))
        found += _places(item, (*path, key))
    return found


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with up to two odd fields: replaced by anything at all, or dropped. Mostly
    one or none: so that many requests get past the checks to the listeners."""
    value = json.loads(json.dumps(value))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 1, 2]))):
        places = _places(value)
        if not places:
            break
        *parents, key = draw(st.sampled_from(places))
        parent = value
        for step in parents:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = draw(junk)
    return value


@st.composite
def command(draw: st.DrawFn, response_url: str) -> tuple[Any, str]:
    fields = dict(
        token="unused-verification-token",
        team_id=draw(teams),
        user_id=draw(user_ids),
        user_name=draw(st.text(max_size=10)),
        command=draw(st.sampled_from(["/share-server", "/other"])),
        text=draw(texts),
        api_app_id=draw(st.sampled_from(["A0SHAREBOT", "A0OTHER"])),
        response_url=draw(st.just(response_url)),
        trigger_id=draw(st.text(max_size=12)),
        channel_id=draw(st.text(max_size=12)),
    )
    return fields, "fields"


@st.composite
def block_actions(draw: st.DrawFn, response_url: str) -> tuple[Any, str]:
    action = dict(
        action_id=draw(st.sampled_from(KNOWN_IDS)),
        block_id=draw(st.text(max_size=10)),
        value=draw(st.text(max_size=60) | st.integers().map(str)),
        type=draw(st.sampled_from(["button", "static_select"])),
        selected_option=draw(st.fixed_dictionaries({"value": st.text(max_size=10)})),
    )
    payload = dict(
        type="block_actions",
        api_app_id=draw(st.just("A0SHAREBOT")),
        team=draw(st.fixed_dictionaries({"id": teams})),
        user=draw(st.fixed_dictionaries({"id": user_ids, "team_id": teams})),
        container=draw(st.fixed_dictionaries({"type": st.just("message")})),
        trigger_id=draw(st.text(max_size=12)),
        response_url=draw(st.just(response_url)),
        actions=draw(st.lists(st.just(action), min_size=1, max_size=2)),
        message=draw(st.fixed_dictionaries({"ts": st.text(max_size=8), "text": texts})),
    )
    return payload, "payload"


@st.composite
def view_submission(draw: st.DrawFn, response_url: str) -> tuple[Any, str]:
    payload = dict(
        type="view_submission",
        api_app_id=draw(st.just("A0SHAREBOT")),
        team=draw(st.fixed_dictionaries({"id": teams})),
        user=draw(st.fixed_dictionaries({"id": user_ids})),
        view=draw(
            st.fixed_dictionaries(
                {
                    "id": st.text(max_size=8),
                    "type": st.just("modal"),
                    "callback_id": st.sampled_from(KNOWN_IDS) | st.text(max_size=10),
                    "private_metadata": st.text(max_size=60) | junk.map(json.dumps),
                    "state": st.fixed_dictionaries({"values": junk}),
                }
            )
        ),
    )
    return payload, "payload"


@st.composite
def event_callback(draw: st.DrawFn, response_url: str) -> tuple[Any, str]:
    event = dict(
        type=draw(st.sampled_from(["app_home_opened", "message", "app_mention"])),
        user=draw(user_ids),
        tab=draw(st.sampled_from(["home", "messages"])),
        event_ts=draw(st.text(max_size=10)),
    )
    body = dict(
        type="event_callback",
        team_id=draw(teams),
        api_app_id=draw(st.just("A0SHAREBOT")),
        event=draw(st.just(event)),
        event_id=f"Ev{secrets.token_hex(6)}",
        authorizations=draw(st.lists(st.fixed_dictionaries({"team_id": teams}), max_size=2)),
    )
    return body, "json"


@st.composite
def url_verification(draw: st.DrawFn, response_url: str) -> tuple[Any, str]:
    body = dict(type="url_verification", challenge=draw(st.text(max_size=40)))
    return body, "json"


@st.composite
def anything(draw: st.DrawFn, response_url: str) -> tuple[str, str]:
    content_type = draw(
        st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain", ""])
    )
    body = draw(
        st.text(max_size=300)
        | junk.map(json.dumps)
        | st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=6).map(urlencode)
        | st.just("payload=" + "%7B" * 50)
    )
    return body, content_type


KINDS: list[Callable[[str], st.SearchStrategy[tuple[Any, str]]]] = [
    command,
    block_actions,
    view_submission,
    event_callback,
    url_verification,
]


def encoded(value: Any, encoding: str) -> tuple[str, str]:
    """The body and content type of a request carrying ``value``."""
    form = "application/x-www-form-urlencoded"
    if encoding == "fields" and isinstance(value, dict):
        return urlencode(
            {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
        ), form
    if encoding == "payload":
        return urlencode({"payload": json.dumps(value)}), form
    return json.dumps(value), "application/json"


@st.composite
def slack_shaped(
    draw: st.DrawFn, kind: Callable[[str], st.SearchStrategy[tuple[Any, str]]], response_url: str
) -> tuple[str, str]:
    value, encoding = draw(kind(response_url))
    return encoded(draw(mutated(value)), encoding)


def request(response_url: str) -> st.SearchStrategy[tuple[str, str]]:
    return st.one_of(*[slack_shaped(kind, response_url) for kind in KINDS], anything(response_url))


def forged(body: str, how: str) -> tuple[str, dict[str, str]]:
    """Headers (and the body sent) for a request without a valid signature."""
    now = int(time.time())
    if how == "forged signature":
        return body, {**sign(body), "X-Slack-Signature": "v0=" + secrets.token_hex(32)}
    if how == "wrong secret":
        return body, sign(body, secret="not-" + SIGNING_SECRET)
    if how == "stale":
        return body, sign(body, timestamp=now - 360)
    if how == "future":
        return body, sign(body, timestamp=now + 360)
    if how == "body changed":
        return body + "&x=1", sign(body)
    if how == "garbage timestamp":
        return body, {**sign(body), "X-Slack-Request-Timestamp": "0x" + str(now)}
    if how == "no signature":
        return body, {"X-Slack-Request-Timestamp": str(now)}
    return body, {}


FORGERIES = [
    "forged signature",
    "wrong secret",
    "stale",
    "future",
    "body changed",
    "garbage timestamp",
    "no signature",
    "no headers",
]


# -- the tests ----------------------------------------------------------------------------------


def test_unsigned_fuzz_changes_nothing(app: RunningApp, slack: FakeSlack, db: Engine) -> None:
    pid = app.process.pid
    peak = reset_peak(pid)
    calls_before = len(slack.calls())
    url = slack.new_response_url()
    seen: set[int] = set()
    with httpx.Client(base_url=app.url, timeout=10) as client:

        @FUZZ_SETTINGS
        @given(
            sent=request(url),
            how=st.sampled_from(FORGERIES),
            pad=st.sampled_from([0, 0, 0, 2 * MIB]),
        )
        def one(sent: tuple[str, str], how: str, pad: int) -> None:
            body, content_type = sent
            body, headers = forged(body + "x" * pad, how)
            if content_type:
                headers["Content-Type"] = content_type
            response = client.post("/slack/events", content=body.encode(), headers=headers)
            seen.add(response.status_code)
            assert response.status_code in (401, 413), (how, response.status_code, body[:200])

        one()
    assert seen == {401, 413}
    assert len(slack.calls()) == calls_before  # no DM, no Home tab, no reply
    assert slack.responses(url) == []
    assert grants(db) == [] and decisions(db) == []
    assert "Traceback" not in app.log()
    grown = vm_hwm(pid) - peak
    assert grown < MEMORY_ALLOWANCE, f"peak RSS grew by {grown / MIB:.1f} MiB"


def test_signed_fuzz_never_fails(app: RunningApp, slack: FakeSlack) -> None:
    pid = app.process.pid
    peak = reset_peak(pid)
    url = slack.new_response_url()
    statuses: set[int] = set()
    with httpx.Client(base_url=app.url, timeout=10) as client:

        @FUZZ_SETTINGS
        @given(sent=request(url))
        def one(sent: tuple[str, str]) -> None:
            body, content_type = sent
            headers = sign(body)
            headers["Content-Type"] = content_type or "application/octet-stream"
            response = client.post("/slack/events", content=body.encode(), headers=headers)
            statuses.add(response.status_code)
            assert response.status_code < 500, (response.status_code, body[:300])

        one()
    assert 200 in statuses
    grown = vm_hwm(pid) - peak
    # The work of the commands and clicks let in runs after their acks: stopping waits for
    # it (serve drains its work on SIGTERM), so the log below has all it will ever say.
    app.stop()
    log = app.log()
    assert "Traceback" not in log, log[log.index("Traceback") - 1500 :][:4000]
    # (A listener that refuses an odd value says so in one ERROR line, never a traceback.)
    assert grown < MEMORY_ALLOWANCE, f"peak RSS grew by {grown / MIB:.1f} MiB"
