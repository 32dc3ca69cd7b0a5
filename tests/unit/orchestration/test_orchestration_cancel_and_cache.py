"""The kernel's cancel target and cache entry: what a cancel request proposes, and which task
runs feed the cache."""

from __future__ import annotations

from uuid import uuid4

import pytest

from stratoflow.orchestration import cache_entry, cancel_target, decide
from stratoflow.schemas import DecisionStatus, ResultRef, State, StateName, StateType, TaskRun
from tests.unit.orchestration.orchestration_support import NOW, ctx, state

RESULT = ResultRef(uri="file:///r")


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (StateType.SCHEDULED, StateType.CANCELLED),
        (StateType.PENDING, StateType.CANCELLED),
        (StateType.PAUSED, StateType.CANCELLED),
        (StateType.RUNNING, StateType.CANCELLING),
    ],
)
def test_a_run_not_started_is_cancelled_at_once_and_a_running_one_becomes_cancelling(
    current: StateType, target: StateType
) -> None:
    proposed = cancel_target(state(current), NOW)
    assert proposed is not None
    assert (proposed.type, proposed.timestamp) == (target, NOW)


def test_a_cancelling_run_needs_no_proposal() -> None:
    assert cancel_target(state(StateType.CANCELLING), NOW) is None


@pytest.mark.parametrize("final", [StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED])
def test_the_target_for_a_finished_run_is_refused_by_the_rules(final: StateType) -> None:
    proposed = cancel_target(state(final), NOW)
    assert proposed is not None
    assert decide(ctx(final, proposed)).status is DecisionStatus.ABORT


def _task(task_state: State, cache_key: str | None = None) -> TaskRun:
    return TaskRun(
        id=uuid4(), flow_run_id=uuid4(), task_key="t", name="t-0", state=task_state,
        cache_key=cache_key, created=NOW, updated=NOW,
    )  # fmt: skip


def test_a_completed_run_with_a_key_and_a_result_feeds_the_cache_under_its_key() -> None:
    entry = cache_entry(_task(state(StateType.COMPLETED, result=RESULT), cache_key="k"))
    assert entry is not None
    key, cached = entry
    assert (key, cached.cache_key, cached.result, cached.name) == (
        "k",
        "k",
        RESULT,
        StateName.COMPLETED,
    )


@pytest.mark.parametrize(
    "task_state",
    [
        state(StateType.COMPLETED, cache_key="k"),  # no persisted result
        state(StateType.COMPLETED, StateName.CACHED, result=RESULT, cache_key="k"),
        state(StateType.FAILED, result=RESULT, cache_key="k"),
        state(StateType.COMPLETED, result=RESULT),  # no key
    ],
)
def test_runs_without_a_computed_result_and_a_key_feed_nothing(task_state: State) -> None:
    assert cache_entry(_task(task_state)) is None
