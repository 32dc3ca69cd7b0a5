"""One rule decides a crash, whoever reports it: `RetryCrashedFlowRuns`, fed the very proposals
the agent (`final_state`) and the zombie killer (`zombie_message`) make. Also when an attempt
ends and what its open task runs become. Pure: no AWS."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stratoflow.orchestration import Decision, RetryCrashedFlowRuns, decide
from stratoflow.orchestration.attempts import (
    closes_left_over_task_runs,
    ends_attempt,
    left_over_task_state,
    starts_later_attempt,
)
from stratoflow.schemas import DecisionStatus, FlowRun, State, StateType
from stratoflow_agents.reporting import final_state
from stratoflow_functions.services.towel.zombies import zombie_message
from tests.unit.orchestration.orchestration_support import NOW, ctx, state


def _agent_crash() -> State:
    """What the agent proposes for a RUNNING run whose process was killed with SIGKILL."""
    run = FlowRun.model_validate(
        {
            "id": "00000000-0000-0000-0000-000000000001",
            "name": "r",
            "flow_id": "00000000-0000-0000-0000-000000000002",
            "state": state(StateType.RUNNING),
            "created": NOW,
            "updated": NOW,
        }
    )
    crashed = final_state(run, -9, None, "Killed")
    assert crashed is not None
    return crashed.model_copy(update={"timestamp": NOW})


def _zombie_crash() -> State:
    """What the zombie killer proposes for a RUNNING run whose heartbeat stopped."""
    return state(StateType.CRASHED, message=zombie_message(600))


REPORTERS = {"agent": (_agent_crash, False), "zombie killer": (_zombie_crash, True)}


def _decide_crash(reporter: str, **kw: object) -> Decision:
    make, control_plane = REPORTERS[reporter]
    context = ctx(StateType.RUNNING, make(), control_plane=control_plane, **kw)  # type: ignore[arg-type]
    return decide(context)


@pytest.mark.parametrize("reporter", sorted(REPORTERS))
def test_a_crash_with_retries_left_awaits_retry_at_now_plus_the_delay(reporter: str) -> None:
    decision = _decide_crash(reporter, run_count=1, retries=2, delays=[30, 90], on_work_queue=True)
    assert (decision.status, decision.rule) == (DecisionStatus.REJECT, "RetryCrashedFlowRuns")
    assert decision.state is not None
    assert (decision.state.type, decision.state.name) == (StateType.SCHEDULED, "AwaitingRetry")
    assert decision.state.scheduled_time == NOW + timedelta(seconds=30)
    assert (decision.state.message or "").startswith("Retry 1 of 2 in 30s after: ")


def test_both_reporters_get_the_same_retry() -> None:
    kw: dict[str, object] = {"run_count": 2, "retries": 3, "delays": [5, 60], "on_work_queue": True}
    agent, zombie = (_decide_crash(reporter, **kw) for reporter in ("agent", "zombie killer"))
    assert agent.state is not None
    assert zombie.state is not None
    same = ("status", "rule", "reason")
    assert [getattr(agent, f) for f in same] == [getattr(zombie, f) for f in same]
    assert agent.state.model_dump(exclude={"message"}) == zombie.state.model_dump(
        exclude={"message"}
    )
    assert agent.state.scheduled_time == NOW + timedelta(seconds=60)


@pytest.mark.parametrize("reporter", sorted(REPORTERS))
def test_a_crash_with_no_retries_left_stays_crashed(reporter: str) -> None:
    decision = _decide_crash(reporter, run_count=2, retries=1, on_work_queue=True)
    assert decision.status is DecisionStatus.ACCEPT
    assert decision.state is not None
    assert decision.state.type is StateType.CRASHED


@pytest.mark.parametrize("reporter", sorted(REPORTERS))
def test_a_crashed_flow_called_directly_is_not_retried(reporter: str) -> None:
    decision = _decide_crash(reporter, run_count=1, retries=3, on_work_queue=False)
    assert decision.status is DecisionStatus.ACCEPT
    assert decision.state is not None
    assert decision.state.type is StateType.CRASHED


def test_a_crash_before_running_counts_no_attempt_and_is_not_retried() -> None:
    context = ctx(StateType.PENDING, _agent_crash(), run_count=1, retries=3, on_work_queue=True)
    assert not RetryCrashedFlowRuns().applies(context)
    decision = decide(context)
    assert decision.state is not None
    assert (decision.status, decision.state.type) == (DecisionStatus.ACCEPT, StateType.CRASHED)


def test_a_cancelling_run_that_crashes_is_not_retried() -> None:
    context = ctx(StateType.CANCELLING, _zombie_crash(), run_count=1, retries=3, control_plane=True)
    decision = decide(context)
    assert decision.state is not None
    assert (decision.status, decision.state.type) == (DecisionStatus.ACCEPT, StateType.CRASHED)


# When an attempt ends, and what its task runs become

RETRY = state(StateType.SCHEDULED, "AwaitingRetry", scheduled_time=NOW)


@pytest.mark.parametrize(
    ("previous", "new", "ends"),
    [
        (state(StateType.RUNNING), state(StateType.COMPLETED), True),
        (state(StateType.RUNNING), RETRY, True),
        (state(StateType.PENDING), state(StateType.SCHEDULED, scheduled_time=NOW), True),
        (state(StateType.CANCELLING), state(StateType.CANCELLED), True),
        (state(StateType.SCHEDULED), state(StateType.SCHEDULED, "Late"), False),
        (state(StateType.CRASHED), RETRY, False),
        (state(StateType.PENDING), state(StateType.RUNNING), False),
    ],
)
def test_an_attempt_ends_on_a_terminal_state_or_a_return_to_scheduled(
    previous: State, new: State, ends: bool
) -> None:
    assert ends_attempt(previous, new) is ends


def test_only_a_second_or_later_entry_into_running_starts_a_later_attempt() -> None:
    running, pending = state(StateType.RUNNING, "Retrying"), state(StateType.PENDING)
    assert starts_later_attempt(pending, running, run_count=1)
    assert not starts_later_attempt(pending, running, run_count=0)
    assert not starts_later_attempt(state(StateType.PAUSED), running, run_count=1)


def test_left_over_task_runs_crash_with_the_flow_runs_reason_or_are_cancelled() -> None:
    crashed = left_over_task_state(state(StateType.CRASHED, message=zombie_message(600)), NOW)
    retried = left_over_task_state(RETRY, NOW)
    cancelled = left_over_task_state(state(StateType.CANCELLED), NOW)
    later = left_over_task_state(state(StateType.RUNNING, "Retrying"), NOW)
    assert crashed.type is retried.type is later.type is StateType.CRASHED
    assert "No heartbeat detected" in (crashed.message or "")
    assert "AwaitingRetry" in (retried.message or "")
    assert "earlier attempt" in (later.message or "")
    assert (cancelled.type, cancelled.timestamp) == (StateType.CANCELLED, NOW)


def test_a_completed_attempt_needs_no_clean_up_but_every_other_end_does() -> None:
    running = state(StateType.RUNNING)
    ends = {
        StateType.COMPLETED: False,
        StateType.FAILED: True,
        StateType.CRASHED: True,
        StateType.CANCELLED: True,
        StateType.SCHEDULED: True,
    }
    for kind, expected in ends.items():
        assert closes_left_over_task_runs(running, state(kind)) is expected, kind
