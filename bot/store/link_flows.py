"""Persistence of self-service link flows: guarded step changes, hashed secrets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.domain.linking import FlowStep
from bot.store.base import Store
from bot.store.models import LinkFlow


@dataclass(frozen=True)
class Flow:
    id: int
    slack_user_id: str
    step: FlowStep
    expires_at: datetime
    browser_hash: str | None
    csrf_hash: str | None
    code_verifier: str | None
    hub_user: str | None
    grant_id: int | None = None  # a flow through an invitation's accept gate
    displaced_slack_id: str | None = None  # whose link this one would replace


class LinkFlows(Store):
    def issue(self, slack_user_id: str, nonce_hash: str, *, now: datetime, ttl: timedelta) -> int:
        """A linking flow: its one-time link was posted in Slack."""
        return self._add(slack_user_id, FlowStep.ISSUED, nonce_hash=nonce_hash, now=now, ttl=ttl)

    def start_gate(
        self,
        slack_user_id: str,
        grant_id: int,
        *,
        nonce_hash: str,
        state_hash: str,
        browser_hash: str,
        code_verifier: str,
        now: datetime,
        ttl: timedelta,
    ) -> int:
        """A flow through an invitation's accept gate, straight at the hub's OAuth."""
        return self._add(
            slack_user_id,
            FlowStep.AUTHORIZING,
            nonce_hash=nonce_hash,
            now=now,
            ttl=ttl,
            grant_id=grant_id,
            state_hash=state_hash,
            browser_hash=browser_hash,
            code_verifier=code_verifier,
        )

    def _add(
        self,
        slack_user_id: str,
        step: FlowStep,
        *,
        nonce_hash: str,
        now: datetime,
        ttl: timedelta,
        **values: Any,
    ) -> int:
        with self._tx() as session:
            row = LinkFlow(
                slack_user_id=slack_user_id,
                step=step.value,
                nonce_hash=nonce_hash,
                created_at=now,
                expires_at=now + ttl,
                updated_at=now,
                **values,
            )
            session.add(row)
            session.flush()
            return row.id

    def by_nonce(self, nonce_hash: str) -> Flow | None:
        return self._one(LinkFlow.nonce_hash == nonce_hash)

    def by_state(self, state_hash: str) -> Flow | None:
        return self._one(LinkFlow.state_hash == state_hash)

    def get(self, flow_id: int) -> Flow | None:
        return self._one(LinkFlow.id == flow_id)

    def advance(self, flow: Flow, new_step: FlowStep, *, now: datetime, **values: Any) -> bool:
        """Move ``flow`` on from its current step while it is unexpired; False if another won."""
        with self._tx() as session:
            result = session.execute(
                update(LinkFlow)
                .where(
                    LinkFlow.id == flow.id,
                    LinkFlow.step == flow.step.value,
                    LinkFlow.expires_at > now,
                )
                .values(step=new_step.value, updated_at=now, **values)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def fail(self, flow: Flow, *, now: datetime) -> None:
        """End a flow for good (a failed exchange): its state and nonce can't be reused."""
        with self._tx() as session:
            session.execute(
                update(LinkFlow)
                .where(LinkFlow.id == flow.id)
                .values(step=FlowStep.FAILED.value, code_verifier=None, updated_at=now)
            )

    def _one(self, condition: Any) -> Flow | None:
        with self._tx() as session:
            row = session.scalar(select(LinkFlow).where(condition))
            if row is None:
                return None
            return Flow(
                id=row.id,
                slack_user_id=row.slack_user_id,
                step=FlowStep(row.step),
                expires_at=row.expires_at,
                browser_hash=row.browser_hash,
                csrf_hash=row.csrf_hash,
                code_verifier=row.code_verifier,
                hub_user=row.hub_user,
                grant_id=row.grant_id,
                displaced_slack_id=row.displaced_slack_id,
            )
