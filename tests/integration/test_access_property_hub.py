"""The one promise's stateful property test (:mod:`tests.support.access_machine`), shorter,
on a real JupyterHub: its own sharing API, codes accepted through its own pages.
``SHAREBOT_PROPERTY_HUB_EXAMPLES`` sets how many sequences run."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from bot.sandbox.fake_slack import FakeSlack
from tests.support.access_machine import (
    OWNER,
    OWNER_SLACK_IDS,
    SERVERS,
    AccessMachine,
    Clock,
    template_database,
)
from tests.support.hub import RunningHub
from tests.support.model_hub import RealWorld

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("SHAREBOT_PROPERTY_HUB_EXAMPLES", "8"))


def test_access_is_exact_on_a_real_hub(
    clean_hub: RunningHub, slack: FakeSlack, tmp_path: Path
) -> None:
    for slack_id in OWNER_SLACK_IDS:
        slack.add_user(slack_id, name=slack_id.lower())
    named = [s for s in SERVERS if s]
    for server in named:
        clean_hub.create_named_server(OWNER, server)
    world = RealWorld(clean_hub)
    try:

        class OnARealHub(AccessMachine):
            pass

        OnARealHub.world = world
        OnARealHub.slack = slack
        OnARealHub.template = template_database(tmp_path)
        OnARealHub.workdir = tmp_path
        OnARealHub.clock = Clock(datetime.now(UTC))
        OnARealHub.start = datetime.now(UTC)
        run_state_machine_as_test(
            OnARealHub,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=25,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                print_blob=True,
            ),
        )
    finally:
        world.reset()
        world.close()
        for server in named:
            clean_hub.delete_named_server(OWNER, server)
