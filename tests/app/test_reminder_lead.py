"""Reminders for every share: the lead-time rule (pure, a fixed ``now``), the settings that
make it, and the due-work query that finds reminders through their index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from bot.config import Settings, load_settings
from bot.domain.grants import DEFAULT_REMINDERS, GrantState, ReminderRule, remind_at
from bot.store.db import alembic_config, make_engine
from bot.store.grants import Grants
from tests.support.factories import NOW, add_active
from tests.support.settings import clean_settings_env

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("length", "lead"),
    [
        (timedelta(hours=2), timedelta(minutes=12)),  # a tenth
        (timedelta(minutes=30), 5 * MINUTE),  # at least 5m
        (timedelta(days=30), DAY),  # at most a day
        (timedelta(minutes=50), 5 * MINUTE),  # exactly the minimum
        (timedelta(days=10), DAY),  # exactly the maximum
    ],
)
def test_the_default_lead_is_a_tenth_within_5m_and_1d(length: timedelta, lead: timedelta) -> None:
    assert DEFAULT_REMINDERS.lead(length) == lead
    assert remind_at(NOW, NOW + length, DEFAULT_REMINDERS) == NOW + length - lead


def test_a_share_shorter_than_the_minimum_is_announced_at_once() -> None:
    assert remind_at(NOW, NOW + 3 * MINUTE, DEFAULT_REMINDERS) == NOW


def test_no_reminder_without_an_end_or_with_reminders_off() -> None:
    assert remind_at(NOW, None, DEFAULT_REMINDERS) is None
    assert remind_at(NOW, NOW + DAY, None) is None


@pytest.mark.parametrize(
    "rule", [(0.0, MINUTE, DAY), (1.5, MINUTE, DAY), (0.1, DAY, MINUTE), (0.1, timedelta(0), DAY)]
)
def test_a_rule_that_cannot_hold_is_refused(rule: tuple[float, timedelta, timedelta]) -> None:
    with pytest.raises(ValueError):
        ReminderRule(*rule)


rules = st.builds(
    lambda f, a, b: ReminderRule(f, min(a, b), max(a, b)),
    st.floats(min_value=1e-6, max_value=1.0),
    st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30)),
    st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30)),
)
lengths = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650))


@given(
    rule=rules,
    length=lengths,
    started=st.timedeltas(min_value=-timedelta(days=3650), max_value=timedelta(0)),
)
def test_property_the_reminder_is_within_min_and_max_and_never_after_the_end(
    rule: ReminderRule, length: timedelta, started: timedelta
) -> None:
    start = NOW + started  # acceptance (or the extension) at or before now
    end = start + length
    lead = rule.lead(length)
    assert rule.min_lead <= lead <= rule.max_lead
    at = remind_at(start, end, rule)
    assert at is not None and start <= at <= end  # never after the end, never before access
    if lead <= length:
        assert end - at == lead  # exactly the lead ahead when the share is long enough
    else:
        assert at == start  # a share shorter than the minimum: at once


# -- settings ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return clean_settings_env(monkeypatch)


@pytest.fixture
def settings(clean_env: pytest.MonkeyPatch) -> Any:
    def make(**env: str) -> Settings:
        for name, value in env.items():
            clean_env.setenv(name, value)
        return load_settings()

    return make


def test_the_settings_make_the_rule_and_off_disables_it(settings: Any) -> None:
    assert settings().reminder_rule == DEFAULT_REMINDERS
    custom = settings(
        SHAREBOT_REMIND_FRACTION="0.25",
        SHAREBOT_REMIND_MIN_LEAD="2m",
        SHAREBOT_REMIND_MAX_LEAD="3h",
    )
    assert custom.reminder_rule == ReminderRule(0.25, 2 * MINUTE, timedelta(hours=3))
    assert settings(SHAREBOT_REMIND_FRACTION="off").reminder_rule is None


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"SHAREBOT_REMIND_FRACTION": "0"}, "above 0"),
        ({"SHAREBOT_REMIND_FRACTION": "2"}, "at most 1"),
        ({"SHAREBOT_REMIND_FRACTION": "tenth"}, "not a number"),
        ({"SHAREBOT_REMIND_MIN_LEAD": "2d"}, "SHAREBOT_REMIND_MIN_LEAD is longer"),
    ],
)
def test_bad_reminder_settings_are_refused(settings: Any, env: dict[str, str], says: str) -> None:
    with pytest.raises(Exception, match=says):
        settings(**env)


# -- the due-work query -----------------------------------------------------------------


def test_reminders_are_found_through_the_state_and_remind_at_index(
    engine: Engine,
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plan")
    repo = Grants(engine)
    add_active(repo, "a", NOW + timedelta(hours=1), remind_at=NOW - MINUTE)
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "remind_at <=" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        due = repo.due(NOW)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert [g.recipient_hub for g in due.to_remind] == ["a"]
    [(statement, parameters)] = seen
    with engine.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
    assert "ix_grants_state_remind" in plan and "remind_at<" in plan, plan
    assert GrantState.ACTIVE.value == "active"


# -- the migration -------------------------------------------------------------------------


def test_the_migration_gives_active_grants_their_reminder_time(database_url: str) -> None:
    db = make_engine(database_url)
    command.upgrade(alembic_config(db), "0012")
    with db.begin() as connection:
        for grant_id, state, reminded in (
            (1, "active", "NULL"),
            (2, "active", at(1)),
            (3, "expired", "NULL"),
        ):
            connection.execute(
                text(
                    "INSERT INTO grants (id, state, owner_slack_id, owner_hub, server,"
                    " recipient_slack_id, recipient_hub, duration_seconds, note, created_at,"
                    " updated_at, revoke_attempts, accepted_at, expires_at, reminded_at)"
                    f" VALUES ({grant_id}, '{state}', 'U1', 'alice', '', 'U2', 'bob', 7200, '',"
                    f" {at(0)}, {at(0)}, 0, {at(0)}, {at(2)}, {reminded})"
                )
            )
    command.upgrade(alembic_config(db), "head")
    rows = Grants(db).grants(states=list(GrantState))
    by_id = {g.id: g.remind_at for g in rows}
    two_hours_in = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    assert by_id == {1: two_hours_in - timedelta(minutes=12), 2: None, 3: None}
    command.downgrade(alembic_config(db), "0012")
    db.dispose()


def at(hours: int) -> str:
    return f"'2026-11-01 0{hours}:00:00'"
