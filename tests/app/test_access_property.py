"""The one promise, as a stateful property test on the scripted hub: see
:mod:`tests.support.access_machine`. ``SHAREBOT_PROPERTY_EXAMPLES`` sets how many random
sequences run (CI: 200). They are the same sequences every run (derandomized: CI is
reproducible); ``SHAREBOT_PROPERTY_RANDOM=1`` draws new ones, to explore."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.support.access_machine import on_the_model

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("SHAREBOT_PROPERTY_EXAMPLES", "200"))
RANDOM = os.environ.get("SHAREBOT_PROPERTY_RANDOM") == "1"


def test_access_is_exact_in_every_order_of_events(tmp_path: Path) -> None:
    with on_the_model(tmp_path, START) as OnTheModel:
        run_state_machine_as_test(
            OnTheModel,
            settings=settings(
                max_examples=EXAMPLES,
                derandomize=not RANDOM,
                stateful_step_count=50,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                print_blob=True,
            ),
        )
