"""Pure parts of issue 12's engine work: the bounded engine time of a batched state, and the
engine's log lines (a traceback too long for one line keeps its end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from stratoflow.runtime.engine_logs import state_repr, with_traceback
from stratoflow.schemas import FlowRun, State, StateType, TaskRun
from stratoflow_functions.services.task_runs import MAX_CLOCK_AHEAD, engine_time

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CREATED = NOW - timedelta(minutes=10)


def _runs(current: datetime) -> tuple[TaskRun, FlowRun]:
    flow_run = FlowRun(
        id=uuid4(), name="r", flow_id=uuid4(), flow_name="f",
        state=State(type=StateType.RUNNING, timestamp=CREATED), created=CREATED, updated=CREATED,
    )  # fmt: skip
    task_run = TaskRun(
        id=uuid4(), flow_run_id=flow_run.id, task_key="t", name="t-0",
        state=State(type=StateType.PENDING, timestamp=current), created=NOW, updated=NOW,
    )  # fmt: skip
    return task_run, flow_run


def _at(seen: datetime, current: datetime = CREATED) -> datetime:
    task_run, flow_run = _runs(current)
    return engine_time(State(type=StateType.RUNNING, timestamp=seen), task_run, flow_run, NOW)


def test_the_engine_time_is_kept_within_bounds() -> None:
    seen = NOW - timedelta(minutes=3)
    assert _at(seen) == seen
    assert _at(NOW + MAX_CLOCK_AHEAD) == NOW + MAX_CLOCK_AHEAD  # a little ahead: kept
    assert _at(NOW + MAX_CLOCK_AHEAD + timedelta(seconds=1)) == NOW  # far ahead: server's now
    assert _at(CREATED - timedelta(days=1)) == CREATED  # never before the flow run
    later = NOW - timedelta(minutes=1)
    assert _at(NOW - timedelta(minutes=2), current=later) == later  # never backwards


def _raise_deep(depth: int) -> None:
    if depth:
        _raise_deep(depth - 1)
    raise ValueError("at the bottom")


def test_a_long_traceback_keeps_its_start_and_its_exception() -> None:
    try:
        _raise_deep(400)
    except ValueError as exc:
        error = exc
    header = "Task run 'deep-0' failed: ValueError: at the bottom"
    whole = with_traceback(header, error)
    assert "shortened" not in whole
    limit = len(whole) * 2 // 3
    text = with_traceback(header, error, limit)
    assert len(text) <= limit
    assert text.startswith("Task run 'deep-0' failed: ValueError: at the bottom\nTraceback")
    assert "... [traceback shortened] ..." in text
    assert text.endswith("ValueError: at the bottom")


def test_states_print_as_prefect_prints_them() -> None:
    assert state_repr(State(type=StateType.COMPLETED)) == "Completed()"
    assert state_repr(State(type=StateType.FAILED, message="boom")) == "Failed('boom')"
