"""The one promise, as a stateful property test on the scripted hub: see
:mod:`tests.support.access_machine`. ``SHAREBOT_PROPERTY_EXAMPLES`` sets how many random
sequences run (CI: 200)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from bot.sandbox.fake_slack import FakeSlack
from tests.support.access_machine import (
    BOT_TOKEN,
    OWNER,
    OWNER_SLACK_IDS,
    PEOPLE,
    SERVERS,
    AccessMachine,
    Clock,
    template_database,
)
from tests.support.model_hub import ModelHub, ModelWorld

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("SHAREBOT_PROPERTY_EXAMPLES", "200"))


def test_access_is_exact_in_every_order_of_events(tmp_path: Path) -> None:
    clock = Clock(START)
    hub = ModelHub(clock.now, users=[OWNER, *PEOPLE.values()])
    hub.add_user(OWNER, servers=[s for s in SERVERS if s])
    with FakeSlack(tokens={BOT_TOKEN}) as slack:
        for slack_id in (*OWNER_SLACK_IDS, *PEOPLE):
            slack.add_user(slack_id, name=slack_id.lower())

        class OnTheModel(AccessMachine):
            pass

        OnTheModel.world = ModelWorld(hub)
        OnTheModel.slack = slack
        OnTheModel.template = template_database(tmp_path)
        OnTheModel.workdir = tmp_path
        OnTheModel.clock = clock
        OnTheModel.start = START
        run_state_machine_as_test(
            OnTheModel,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=50,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                print_blob=True,
            ),
        )
