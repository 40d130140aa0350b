"""The background pass wakes for the next deadline, not only every interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.app.jobs import DEADLINE_SLACK, MIN_PAUSE, next_pause

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_a_deadline_sooner_than_the_interval_wakes_the_pass_just_after_it() -> None:
    assert next_pause(NOW, None, 30.0) == 30.0
    assert next_pause(NOW, NOW + timedelta(seconds=7), 30.0) == 7 + DEADLINE_SLACK
    assert next_pause(NOW, NOW + timedelta(minutes=5), 30.0) == 30.0
    assert next_pause(NOW, NOW - timedelta(seconds=5), 30.0) == MIN_PAUSE  # never spins


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(min_value=1.0, max_value=3600.0),
)
def test_the_pause_is_bounded_and_never_sleeps_past_a_deadline(
    offset: float, interval: float
) -> None:
    deadline = NOW + timedelta(seconds=offset)
    pause = next_pause(NOW, deadline, interval)
    assert MIN_PAUSE <= pause <= interval
    if offset > MIN_PAUSE:  # a future deadline is never slept past by more than the slack
        assert pause <= offset + DEADLINE_SLACK + 1e-6
