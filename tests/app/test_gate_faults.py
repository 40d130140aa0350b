"""The accept gate when the hub does not answer at the moment the recipient comes back:
she is sent on to the server (the hub decides what she may open), never shown an error,
and the pass is left to record the acceptance."""

from __future__ import annotations

import pytest

from bot.domain.gate import new_gate_token, seal, sha256_hex
from bot.errors import HubError
from bot.runtime import Runtime
from bot.store.gates import Gates
from tests.support.factories import NOW, new_grant


async def _failing_check(*args: object, **kwargs: object) -> tuple[int, int]:
    raise HubError("injected: the hub is unavailable")


async def test_a_hub_failure_at_the_return_sends_her_on(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant = rt.grants.add_grant(new_grant(), now=NOW)
    token = new_gate_token()
    Gates(rt.engine).put(grant.id, sha256_hex(token), seal("http://hub/accept", token), now=NOW)
    monkeypatch.setattr(rt.gate.codes, "check", _failing_check)
    url = await rt.gate.accepted(grant.id, f"browser.{token}", NOW)
    assert url.endswith("/user/owner/")
    still = rt.grants.get(grant.id)
    assert still is not None and still.state.value == "invited"  # left to the pass
