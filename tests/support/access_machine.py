"""The one promise as a stateful property (hypothesis ``RuleBasedStateMachine``): whatever
the order of shares, acceptances (by the recipient or by someone else), revokes, leaves,
expiries, extensions, relinks, the owner's own shares and revokes in the hub, hub faults
and background passes, after every background pass that no fault interrupted, for every
person and server::

    the hub's scopes == earlier access + the scopes of that person's active grants
                        (+ access sharebot reported to the owner as unexplained, until
                         the owner decides)

and no grant outlives its deadline, and every invitation the recipient accepted (and
nobody ended) is active.

*Earlier access* is what the test knows the owner gave in the hub. Two things the hub's
API cannot show are kept out of the sequences, by the rules' preconditions, and are
documented in docs/security: a share made in the hub to someone who already holds
sharebot's access (the hub merges scopes and keeps the row's time, so nothing changes that
anyone could see), and changes in the hub between two passes that undo each other (the
owner's revoke in the hub comes between two passes: one that undid a link's use nobody
had seen yet looks like no use, and whoever else gained the link's access meanwhile, in
the hub, is then taken for the link's user and loses it). A third: someone the owner gave
access in the hub who, before any pass saw that share, uses a link not theirs that gives
some of the same scopes: the growth looks like the link's alone, and they lose those
scopes (towards less access; telling them apart needs the share row's ``created_at``
against the code's ``last_exchanged_at``). Their use of a link waits for a pass.

The same machine runs on the scripted hub (:class:`tests.support.model_hub.ModelWorld`)
and, shorter, on a real JupyterHub (:class:`~tests.support.model_hub.RealWorld`), with
sharebot's services driven directly (no Slack requests: the invitations reach the Slack
stand-in, where the test reads the accept links).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import Engine

from bot.app.outcomes import Reason, Refusal
from bot.app.reconcile import ReconcileReport
from bot.domain.access import FlagState, grant_scopes
from bot.domain.commands import Revoke, Share
from bot.domain.grants import OPEN_STATES, Grant, GrantState
from bot.errors import SharebotError
from bot.sandbox.fake_slack import BOT_TOKEN as BOT_TOKEN  # for the tests of the machine
from bot.sandbox.fake_slack import FakeSlack
from bot.store.db import ensure_schema, make_engine
from tests.support.model_hub import HubWorld, ModelHub, ModelWorld
from tests.support.services import services

OWNER = "owner"
OWNER_SLACK_IDS = ("UOWNER", "UOWNER2")  # relinking moves the owner between these
PEOPLE = {"UALICE": "alice", "UBOB": "bob", "UCAROL": "carol"}
RECIPIENTS = ("UALICE", "UBOB")  # carol is shared with only in the hub, and uses links
SERVERS = ("", "gpu")
#: Mostly the default server: events meet more often on one (the second catches mix-ups).
A_SERVER = st.sampled_from(["", "", "", "gpu"])
FAULTS_PER_SEQUENCE = 2


@dataclass
class Clock:
    """sharebot's ``now`` (and the scripted hub's): moved by the machine, never read."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


def template_database(workdir: Path) -> Path:
    """An empty database at the schema's head, made once and copied for every example."""
    path = workdir / "template.sqlite"
    if not path.exists():
        engine = make_engine(f"sqlite:///{path}")
        ensure_schema(engine)
        engine.dispose()
    return path


@dataclass
class Invitation:
    grant_id: int
    recipient: str  # hub user
    server: str
    url: str


@dataclass
class Truth:
    """What really happened, as only the test knows it."""

    earlier: dict[tuple[str, str], frozenset[str]] = field(
        default_factory=lambda: defaultdict(frozenset)
    )
    accepted: set[int] = field(default_factory=set)  # grants whose recipient used her link
    ended: set[int] = field(default_factory=set)  # grants a revoke, leave or the hub ended
    # who ever used a link that was not theirs, or was given access by the owner in the
    # hub: the only people sharebot may report as having unexplained access
    may_be_flagged: set[str] = field(default_factory=set)


class Harness:
    """sharebot's services for one example, on a fresh database and a world's hub, built by
    the product's own wiring."""

    def __init__(
        self, world: HubWorld, slack: FakeSlack, template: Path, workdir: Path, clock: Clock
    ) -> None:
        self.world = world
        self.slack = slack
        self.clock = clock
        start = clock.now()
        self.loop = asyncio.new_event_loop()
        database = workdir / "example.sqlite"
        shutil.copyfile(template, database)
        self.engine: Engine = make_engine(f"sqlite:///{database}")
        self.rt = services(
            self.engine,
            slack.api_url,
            transport=world.sharebot_transport(),
            api_url=world.api_url,
            hub_token=world.service_token,
            clock=clock.now,
            jupyterhub_public_url="http://hub.test",
            remind_fraction="off",
        )
        # one invitation at a time: which of a share's invitations meets an armed fault
        # must not depend on the scheduler (hypothesis replays sequences exactly)
        self.rt.sharing.invite_at_once = 1
        self.grants = self.rt.grants
        self.flags = self.rt.flags.flags
        self.rt.links.link(OWNER_SLACK_IDS[0], OWNER, method="admin", by="test", now=start)
        for slack_id, name in PEOPLE.items():
            self.rt.links.link(slack_id, name, method="admin", by="test", now=start)

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def close(self) -> None:
        self.run(self.rt.aclose())
        self.loop.close()


class AccessMachine(RuleBasedStateMachine):
    """Set ``world``, ``slack``, ``template``, ``workdir``, ``clock`` and ``start`` (a
    subclass per hub) before running; ``clock`` is the one the world's hub reads too."""

    world: HubWorld
    slack: FakeSlack
    template: Path
    workdir: Path
    clock: Clock
    start: datetime

    def __init__(self) -> None:
        super().__init__()
        self.clock.moment = self.start
        self.world.reset()
        self.world.faults.disarm()
        self.slack.reset()
        self.h = Harness(self.world, self.slack, self.template, self.workdir, self.clock)
        self.owner_slack_id = OWNER_SLACK_IDS[0]
        self.invitations: list[Invitation] = []
        self.truth = Truth()
        self.passes = 0
        self.faults_left = FAULTS_PER_SEQUENCE
        self.relinked = False
        self.shared_in_the_hub_unseen: set[str] = set()  # since the last clean pass

    def teardown(self) -> None:
        self.h.close()

    # -- helpers -------------------------------------------------------------------------

    def grants(self) -> list[Grant]:
        return self.h.grants.grants(states=list(GrantState))

    def _pick(self, items: list[Any], index: int) -> Any:
        return items[index % len(items)]

    def live_links(self) -> list[Invitation]:
        """Invitations whose link may still work: not accepted yet, or its code not gone."""
        found = []
        for invitation in self.invitations:
            grant = self.h.grants.get(invitation.grant_id)
            if grant is not None and (grant.state.is_open or not grant.code_gone):
                found.append(invitation)
        return found

    def _hub_call(self, work: Any) -> Any:
        """A use case that may meet an armed fault: its errors are the answer, not a bug."""
        try:
            return self.h.run(work)
        except SharebotError:
            return None

    def _holder_grants(
        self, person: str, server: str, states: frozenset[GrantState]
    ) -> list[Grant]:
        return [
            g
            for g in self.grants()
            if g.server == server and g.holder == person and g.state in states
        ]

    # -- what people do ------------------------------------------------------------------

    @rule(
        who=st.sets(st.sampled_from(RECIPIENTS), min_size=1, max_size=2),
        server=A_SERVER,
        manage=st.booleans(),
        minutes=st.sampled_from([30, 180]),
    )
    def share(self, who: set[str], server: str, manage: bool, minutes: int) -> None:
        cmd = Share(tuple(sorted(who)), timedelta(minutes=minutes), server, "", manage)
        outcome = self._hub_call(
            self.h.rt.sharing.share(self.owner_slack_id, cmd, self.h.clock.now())
        )
        if outcome is None:
            return
        for grant in outcome.invited:
            dms = self.slack.dms_to(grant.recipient_slack_id)
            url = _accept_url(dms[-1]) if dms else None
            if url is not None:
                self.invitations.append(
                    Invitation(grant.id, grant.recipient_hub, grant.server, url)
                )

    @precondition(lambda self: self.live_links())
    @rule(index=st.integers(0, 10**6))
    def recipient_accepts(self, index: int) -> None:
        invitation = self._pick(self.live_links(), index)
        grant = self.h.grants.get(invitation.grant_id)
        # Hers from now on, if it was still an invitation (a link that outlived its
        # invitation, say because its deletion failed, gives nothing)
        invited = grant is not None and grant.state is GrantState.INVITED
        if self.world.accept(invitation.recipient, invitation.url) and invited:
            self.truth.accepted.add(invitation.grant_id)

    @precondition(lambda self: self.live_links())
    @rule(index=st.integers(0, 10**6), other=st.sampled_from(sorted(PEOPLE.values())))
    def someone_else_accepts(self, index: int, other: str) -> None:
        invitation = self._pick(self.live_links(), index)
        if other in self.shared_in_the_hub_unseen:  # the third case of the docstring
            return
        if other != invitation.recipient and self.world.accept(other, invitation.url):
            self.truth.may_be_flagged.add(other)

    @rule(person=st.sampled_from(RECIPIENTS), server=A_SERVER)
    def owner_revokes(self, person: str, server: str) -> None:
        ended = [
            g.id
            for g in self.grants()
            if g.recipient_slack_id == person and g.server == server and g.state.is_open
        ]
        reply = self._hub_call(
            self.h.rt.sharing.revoke(
                self.owner_slack_id, Revoke((person,), server), self.h.clock.now()
            )
        )
        if reply is not None:
            self.truth.ended.update(ended)

    @precondition(lambda self: any(g.state.is_open for g in self.grants()))
    @rule(index=st.integers(0, 10**6))
    def recipient_leaves(self, index: int) -> None:
        grant = self._pick([g for g in self.grants() if g.state.is_open], index)
        reply = self._hub_call(
            self.h.rt.sharing.leave(grant.id, grant.recipient_slack_id, self.h.clock.now())
        )
        if reply is not None:
            self.truth.ended.add(grant.id)

    @precondition(lambda self: any(g.state is GrantState.ACTIVE for g in self.grants()))
    @rule(index=st.integers(0, 10**6), minutes=st.sampled_from([15, 60]))
    def owner_extends(self, index: int, minutes: int) -> None:
        grant = self._pick([g for g in self.grants() if g.state is GrantState.ACTIVE], index)
        if grant.expires_at is not None and grant.expires_at > self.h.clock.now():
            self.h.run(
                self.h.rt.sharing.extend(
                    grant, timedelta(minutes=minutes), self.owner_slack_id, self.h.clock.now()
                )
            )

    @rule(minutes=st.sampled_from([5, 25, 70, 200]))
    def time_passes(self, minutes: int) -> None:
        self.h.clock.moment += timedelta(minutes=minutes)

    @precondition(lambda self: not self.relinked)
    @rule()
    def owner_relinked(self) -> None:
        """The owner's hub account moves to their other Slack account; the old one loses
        every power over the owner's grants at once."""
        self.relinked = True
        old = self.owner_slack_id
        new = OWNER_SLACK_IDS[1 - OWNER_SLACK_IDS.index(old)]
        self.h.rt.links.link(new, OWNER, method="admin", by="test", now=self.h.clock.now())
        self.owner_slack_id = new
        for grant in [g for g in self.grants() if g.state.is_open][:1]:
            answer = self.h.run(self.h.rt.sharing.revoke_grant(grant.id, old, self.h.clock.now()))
            assert answer == Refusal(Reason.ONLY_OWNER_REVOKES)
            assert self.h.grants.get(grant.id) == grant  # nothing changed

    # -- what the owner does in the hub --------------------------------------------------

    @rule(person=st.sampled_from(sorted(PEOPLE.values())), server=A_SERVER, manage=st.booleans())
    def owner_shares_in_the_hub(self, person: str, server: str, manage: bool) -> None:
        # Only where it can be seen: to someone holding nothing, with no open grant.
        if self.world.scopes_of(OWNER, server, person) or self._holder_grants(
            person, server, OPEN_STATES
        ):
            return
        scopes = grant_scopes(OWNER, server, ["manage"] if manage else [])
        self.world.share_direct(OWNER, server, person, sorted(scopes))
        self.shared_in_the_hub_unseen.add(person)
        self.truth.earlier[(person, server)] |= scopes
        self.truth.may_be_flagged.add(person)

    @rule(person=st.sampled_from(sorted(PEOPLE.values())), server=A_SERVER)
    def owner_revokes_in_the_hub(self, person: str, server: str) -> None:
        # A pass before (what happened so far is seen) and after (the revoke is): a revoke
        # in the hub that undoes a link's use no pass has seen yet is out of the sequences
        # (see the docstring and docs/security.md)
        self.background_pass()
        self.world.revoke_direct(OWNER, server, person)
        self.truth.earlier[(person, server)] = frozenset()
        self.truth.ended.update(g.id for g in self._holder_grants(person, server, OPEN_STATES))
        self.background_pass()  # seen before anything else happens (see the docstring)

    @precondition(lambda self: self.h.flags.pending())
    @rule(index=st.integers(0, 10**6), keep=st.booleans())
    def owner_decides_a_flag(self, index: int, keep: bool) -> None:
        flag = self._pick(self.h.flags.pending(), index)
        answer = self._hub_call(
            self.h.rt.flags.decide(flag.id, self.owner_slack_id, keep, self.h.clock.now())
        )
        settled = self.h.flags.get(flag.id)
        key = (flag.hub_user, flag.server)
        if settled is None:
            return
        if keep and answer is not None and settled.state is FlagState.KEPT:
            self.truth.earlier[key] |= flag.scopes  # "I shared it": theirs from now on
        elif not keep and settled.state is not FlagState.KEPT:
            # the owner wants it gone, whoever gave it; when the hub's answer was an error,
            # it may have removed it all the same (else the flag is still pending)
            self.truth.earlier[key] -= flag.scopes

    # -- faults and the background -------------------------------------------------------

    @precondition(lambda self: self.faults_left > 0)
    @rule(
        method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
        path=st.sampled_from(["share-codes/", "shares/"]),
        kind=st.sampled_from(["503", "connect", "malformed"]),
        after=st.booleans(),
    )
    def hub_fault(self, method: str, path: str, kind: str, after: bool) -> None:
        if kind == "malformed" and method != "GET":
            kind = "503"
        self.faults_left -= 1
        when = "after" if after or kind == "malformed" else "before"
        self.world.faults.arm(method, path, kind=kind, when=when)  # type: ignore[arg-type]

    @rule()
    def background_pass(self) -> None:
        """A pass (and reconciliation); when no fault fired in it, the promise must hold:
        whatever an earlier fault interrupted, a clean pass has retried."""
        before = len(self.world.faults.fired)
        now = self.h.clock.now()
        self.h.run(self.h.rt.sweep.run(now))
        with contextlib.suppress(SharebotError):
            self.h.run(self.h.rt.reconciler.reconcile_owner(OWNER, now, ReconcileReport()))
        self.passes += 1
        if len(self.world.faults.fired) == before and not self.world.faults.armed():
            self.shared_in_the_hub_unseen.clear()
            self.check_promise()

    @rule()
    def another_pass(self) -> None:
        """Passes come twice as often as any other event."""
        self.background_pass()

    # -- the promise ---------------------------------------------------------------------

    def check_promise(self) -> None:
        now = self.h.clock.now()
        grants = self.grants()
        pending = self.h.flags.pending()
        for flag in pending:
            assert flag.hub_user in self.truth.may_be_flagged, (
                f"{flag.label}: {flag.hub_user} used no link but their own, and was given "
                "nothing in the hub"
            )
        for grant in grants:
            assert grant.state not in (GrantState.ENDING, GrantState.WITHDRAWING), grant.label
            if grant.state is GrantState.ACTIVE and grant.expires_at is not None:
                assert grant.expires_at > now, f"{grant.label} outlived its deadline"
            accepted = grant.id in self.truth.accepted and grant.id not in self.truth.ended
            if accepted and (grant.expires_at is None or grant.expires_at > now):
                assert grant.state is GrantState.ACTIVE, (
                    f"{grant.label} was accepted and nobody ended it, but is {grant.state}"
                )
        for person in PEOPLE.values():
            for server in SERVERS:
                held = self.world.scopes_of(OWNER, server, person)
                active = frozenset().union(
                    *(
                        g.scopes
                        for g in grants
                        if g.server == server
                        and g.holder == person
                        and g.state is GrantState.ACTIVE
                    )
                )
                flagged = frozenset().union(
                    *(f.scopes for f in pending if f.server == server and f.hub_user == person)
                )
                expected = self.truth.earlier[(person, server)] | active | flagged
                assert held == expected, (
                    f"{person} on {OWNER}/{server}: the hub has {sorted(held)}, "
                    f"earlier access {sorted(self.truth.earlier[(person, server)])}, "
                    f"active grants {sorted(active)}, flagged {sorted(flagged)}"
                )

    @invariant()
    def nobody_but_sharebot_and_the_owner_shares(self) -> None:
        """Between passes, too: access beyond earlier access only ever comes from a link."""
        for person in PEOPLE.values():
            for server in SERVERS:
                held = self.world.scopes_of(OWNER, server, person)
                extra = held - self.truth.earlier[(person, server)]
                assert extra <= grant_scopes(OWNER, server, ["manage"]), (person, server, extra)


def _accept_url(message: dict[str, Any]) -> str | None:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("url"):
                return str(element["url"])
    return None


@contextlib.contextmanager
def on_the_model(workdir: Path, start: datetime) -> Iterator[type[AccessMachine]]:
    """The machine on the scripted hub (owner with every server, the people as users) and
    a Slack stand-in that knows everyone, with a template database in ``workdir``: what the
    property test runs and the scenarios drive step by step."""
    clock = Clock(start)
    hub = ModelHub(clock.now, users=[OWNER, *PEOPLE.values()])
    hub.add_user(OWNER, servers=[s for s in SERVERS if s])
    with FakeSlack(tokens={BOT_TOKEN}) as slack:
        for slack_id in (*OWNER_SLACK_IDS, *PEOPLE):
            slack.add_user(slack_id, name=slack_id.lower())

        class OnTheModel(AccessMachine):
            pass

        OnTheModel.world = ModelWorld(hub)
        OnTheModel.slack = slack
        OnTheModel.template = template_database(workdir)
        OnTheModel.workdir = workdir
        OnTheModel.clock = clock
        OnTheModel.start = start
        yield OnTheModel
