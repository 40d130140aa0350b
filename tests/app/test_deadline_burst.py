"""Many grants due at once (issue #19, target 3): the pass marks them ending in one write,
its revocation slots do the hub's work only, and the end DMs go out beside them, each
once per lease, none lost when the pass stops halfway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, event, text

from bot.app.messages import Rendered
from bot.app.ports import Say
from bot.app.sweep import Sweep
from bot.domain.grants import GrantState
from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.store.audit import AuditLog
from bot.store.grants import Grants
from bot.store.outbox import Outbox, OutgoingNotice, enqueue
from tests.support.factories import NOW, new_grant
from tests.support.flaky_hub import FlakyHub
from tests.support.services import services

DUE = 12
LEASE = timedelta(minutes=5)


class GatedSay:
    """The messenger, holding every send until ``gate`` is open (Slack that is slow)."""

    def __init__(self, say: Say) -> None:
        self.say = say
        self.gate = asyncio.Event()
        self.sent: list[str] = []

    def render(self, message: object) -> object:
        return self.say.render(message)  # type: ignore[arg-type]

    async def send(self, slack_id: str, rendered: Rendered) -> None:
        await self.gate.wait()
        self.sent.append(slack_id)
        await self.say.send(slack_id, rendered)

    def __getattr__(self, name: str) -> object:
        return getattr(self.say, name)


@pytest.fixture
async def rt(engine: Engine, fake_slack: FakeSlack, hub_script: FlakyHub) -> AsyncIterator[Runtime]:
    runtime = services(
        engine, fake_slack.api_url, transport=httpx.MockTransport(hub_script), clock=lambda: NOW
    )
    yield runtime
    await runtime.aclose()


def due_grants(repo: Grants, n: int = DUE) -> list[int]:
    """``n`` active grants of owner's server to u0, u1, ... (Slack U000, U001, ...), due."""
    ids = []
    for i in range(n):
        grant = repo.add_grant(
            new_grant(recipient_hub=f"u{i}", recipient_slack_id=f"U{i:03d}"),
            now=NOW - timedelta(hours=2),
        )
        active = repo.transition(
            grant,
            GrantState.ACTIVE,
            now=NOW - timedelta(hours=1),
            action="accept",
            accepted_hub_user=f"u{i}",
            expires_at=NOW - timedelta(seconds=1),
        )
        assert active is not None
        ids.append(active.id)
    return ids


async def until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_due_grants_are_marked_ending_in_one_write_each_once(engine: Engine) -> None:
    repo = Grants(engine)
    ids = due_grants(repo, 3)
    grants = [g for g in repo.grants(states=[GrantState.ACTIVE]) if g.id in ids]
    # One was extended since its deadline was read: that one is not due any more.
    extended = repo.extend(grants[1], NOW + timedelta(hours=1), now=NOW, actor_slack_id="UOWNER")
    assert extended is not None
    moved = repo.transition_many(
        list(reversed(grants)),
        GrantState.ENDING,
        now=NOW,
        action="expire",
        unchanged=("expires_at",),
        end_reason="expired",
    )
    assert [g.id for g in moved] == [grants[0].id, grants[2].id]  # in id order
    assert all(g.state is GrantState.ENDING and g.end_reason == "expired" for g in moved)
    assert repo.get(grants[1].id).state is GrantState.ACTIVE  # type: ignore[union-attr]
    # A second marker (another replica) finds them moved already.
    again = repo.transition_many(
        grants, GrantState.ENDING, now=NOW, action="expire", unchanged=("expires_at",)
    )
    assert again == []
    audited = [e for e in AuditLog(engine).audit_log() if e.action == "expire"]
    assert sorted(e.grant_id or 0 for e in audited) == [grants[0].id, grants[2].id]
    assert all(e.detail == {"from": "active", "to": "ending"} for e in audited)


def test_a_lease_is_renewed_only_while_it_is_still_the_one_given(engine: Engine) -> None:
    outbox = Outbox(engine)
    with outbox._tx() as session:  # as a state change writes them, leased to its writer
        enqueue(
            session,
            [OutgoingNotice("k:a", "UA", "a"), OutgoingNotice("k:b", "UB", "b")],
            NOW,
            lease=LEASE,
        )
    # The lease of k:b ran out and another sender claimed it.
    b = outbox.by_key("k:b")
    assert b is not None and outbox.claim(b.id, NOW + LEASE, LEASE) is not None
    later = NOW + LEASE + timedelta(seconds=1)
    assert outbox.renew(["k:a", "k:b"], NOW + LEASE, later + LEASE) == ["k:a"]
    assert outbox.by_key("k:a").next_attempt_at == later + LEASE  # type: ignore[union-attr]
    assert outbox.by_key("k:b").next_attempt_at == NOW + 2 * LEASE  # type: ignore[union-attr]


async def test_the_slots_revoke_every_grant_while_slack_holds_the_dms(
    rt: Runtime, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    ids = due_grants(rt.grants)
    gated = GatedSay(rt.notices.say)
    rt.notices.say = gated  # type: ignore[assignment]
    sweep: Sweep = rt.sweep
    sweep.mark_batch = 5  # three writes for the twelve
    task = asyncio.create_task(sweep.run(NOW))

    def all_expired() -> bool:
        return len(rt.grants.grants(states=[GrantState.EXPIRED])) == DUE

    await until(all_expired)
    assert hub_script.patches == DUE and gated.sent == []  # no revocation waited for a DM
    assert not task.done()  # the pass waits for its notices' first tries
    gated.gate.set()
    report = await asyncio.wait_for(task, 10)
    assert report.ended == DUE and report.failures == 0
    for i in range(DUE):
        assert len([d for d in fake_slack.dms_to(f"U{i:03d}") if "ended" in d["text"]]) == 1
    assert gated.sent.count("UOWNER") == DUE  # the owner hears of each, once
    assert rt.notices.outbox.pending_count() == 0
    assert {g.id for g in rt.grants.grants(states=[GrantState.EXPIRED])} == set(ids)


async def test_a_pass_stopped_before_its_dms_leaves_them_to_the_outbox_once(
    rt: Runtime, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    due_grants(rt.grants)
    gated = GatedSay(rt.notices.say)
    rt.notices.say = gated  # type: ignore[assignment]
    task = asyncio.create_task(rt.sweep.run(NOW))
    await until(lambda: len(rt.grants.grants(states=[GrantState.EXPIRED])) == DUE)
    task.cancel()  # the process stops: the DMs were written with the ends, not sent
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gated.sent == [] and rt.notices.outbox.pending_count() == 2 * DUE
    gated.gate.set()
    # Still leased to the stopped pass: nobody sends them before the lease runs out ...
    assert (await rt.notices.deliver_due(NOW + timedelta(seconds=1))).sent == 0
    # ... then the outbox's retry sends each once.
    lease = rt.notices.lease
    report = await rt.notices.deliver_due(NOW + lease + timedelta(seconds=1), limit=1000)
    assert report.sent == 2 * DUE and rt.notices.outbox.pending_count() == 0
    for i in range(DUE):
        assert len([d for d in fake_slack.dms_to(f"U{i:03d}") if "ended" in d["text"]]) == 1


async def test_a_late_first_try_leaves_a_notice_another_sender_claimed(
    rt: Runtime, fake_slack: FakeSlack
) -> None:
    outbox = rt.notices.outbox
    lease = rt.notices.lease
    with outbox._tx() as session:
        enqueue(
            session,
            [OutgoingNotice("k:mine", "UA", "mine"), OutgoingNotice("k:taken", "UB", "taken")],
            NOW,
            lease=lease,
        )
    taken = outbox.by_key("k:taken")
    assert taken is not None and outbox.claim(taken.id, NOW + lease, lease) is not None
    report = await rt.notices.deliver_leased(["k:mine", "k:taken"], NOW)
    assert report.sent == 1
    assert [d["text"] for d in fake_slack.dms_to("UA")] == ["mine"]
    assert fake_slack.dms_to("UB") == []  # its claimer sends it, not this late first try


async def test_each_end_takes_two_writes_of_its_grant_claim_and_end(
    rt: Runtime, engine: Engine, hub_script: FlakyHub
) -> None:
    """Past the marking (one UPDATE a row, batched in one transaction), a slot writes each
    grant twice: its claim (which reads it back) and its end, which lets the claim go."""
    ids = due_grants(rt.grants)
    for grant in rt.grants.grants(states=[GrantState.ACTIVE]):  # no code left to watch
        rt.grants.code_seen(grant, now=NOW, gone=True)
    updates: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE GRANTS"):
            updates.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        report = await rt.sweep.run(NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert report.ended == DUE and hub_script.patches == DUE
    assert len(updates) == DUE + 2 * DUE  # marked, claimed, ended (and released)
    ended = [rt.grants.get(i) for i in ids]
    assert all(g is not None and g.state is GrantState.EXPIRED for g in ended)
    with engine.connect() as conn:
        held = conn.execute(
            text("SELECT count(*) FROM grants WHERE claimed_by IS NOT NULL")
        ).scalar_one()
    assert held == 0


class SlowPatches(httpx.AsyncBaseTransport):
    """The scripted hub, where each PATCH takes 20 ms (the hub's own time)."""

    def __init__(self, hub: FlakyHub) -> None:
        self.inner = httpx.MockTransport(hub)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            await asyncio.sleep(0.02)
        return await self.inner.handle_async_request(request)


async def test_two_replicas_split_a_burst_and_do_none_twice(
    engine: Engine, fake_slack: FakeSlack, hub_script: FlakyHub
) -> None:
    """Both passes wake for the same deadline; whichever marks the grants, the other's
    slots take their part of them (by the claims)."""
    due = 40
    replicas = [
        services(
            engine,
            fake_slack.api_url,
            transport=SlowPatches(hub_script),
            clock=lambda: NOW,
            sweep_concurrency=2,
        )
        for _ in range(2)
    ]
    try:
        ids = due_grants(replicas[0].grants, due)
        for grant in replicas[0].grants.grants(states=[GrantState.ACTIVE]):
            replicas[0].grants.code_seen(grant, now=NOW, gone=True)
        reports = await asyncio.gather(*(r.sweep.run(NOW) for r in replicas))
    finally:
        for runtime in replicas:
            await runtime.aclose()
    ended = [report.ended for report in reports]
    assert sum(ended) == due and min(ended) >= due // 4, ended  # split, each did a part
    assert hub_script.patches == due  # none twice
    expired = replicas[0].grants.grants(states=[GrantState.EXPIRED])
    assert {g.id for g in expired} == set(ids)
    audited = [e for e in replicas[0].audit.audit_log() if e.action == "expired"]
    assert sorted(e.grant_id or 0 for e in audited) == sorted(ids)  # one end each
