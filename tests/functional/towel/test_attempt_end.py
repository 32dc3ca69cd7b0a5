"""A finished flow run has no task runs left open, over moto: what an ended attempt left is
closed after the flow run's write, what a reschedule left is closed when the next attempt
starts, and a replayed proposal finishes a follow-up that was cut short."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from stratoflow.schemas import DecisionStatus, State, StateProposal, StateType, TaskRun
from stratoflow_functions.config import Settings
from stratoflow_functions.services.flow_run_states import propose_flow_run_state
from stratoflow_functions.services.towel import resurrect
from stratoflow_functions.store import Store
from tests.functional.towel.towel_support import live_run, task_run
from tests.support import FakeClock

TEN_MINUTES = 600


def propose(store: Store, run_id: UUID, clock: FakeClock, type_: StateType, **kw: object) -> State:
    """Propose like a client does (POST /flow-runs/{id}/state); the state the run took."""
    state = State(type=type_, timestamp=clock.now, **kw)  # type: ignore[arg-type]
    answer = propose_flow_run_state(store, run_id, StateProposal(state=state), clock.now)
    assert answer.state is not None
    return answer.state


def task_states(store: Store, flow_run_id: UUID) -> dict[UUID, State]:
    page = store.task_runs.list_for_flow_run(flow_run_id, 100, None)
    return {task.id: task.state for task in page.items}


def test_after_a_crash_and_a_retry_the_completed_run_has_no_open_task_runs(
    store: Store, clock: FakeClock
) -> None:
    run = live_run(store, clock.now, retries=1, run_count=1)
    first_attempt = [
        task_run(store, run.id, clock.now, kind)
        for kind in (StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED)
    ]
    done = task_run(store, run.id, clock.now, StateType.COMPLETED)

    retry = propose(store, run.id, clock, StateType.CRASHED, message="exit code -9 (SIGKILL)")

    assert (retry.type, retry.name) == (StateType.SCHEDULED, "AwaitingRetry")
    after_crash = task_states(store, run.id)
    assert {after_crash[task.id].type for task in first_attempt} == {StateType.CRASHED}
    assert "exit code -9" in (after_crash[first_attempt[0].id].message or "")
    assert after_crash[done.id].type is StateType.COMPLETED
    clock.advance(1)
    for step in (StateType.PENDING, StateType.RUNNING):
        propose(store, run.id, clock, step)
    second = task_run(store, run.id, clock.now, StateType.COMPLETED)
    assert propose(store, run.id, clock, StateType.COMPLETED).type is StateType.COMPLETED
    final = task_states(store, run.id)
    assert [s for s in final.values() if not s.is_terminal] == []
    assert final[second.id].type is StateType.COMPLETED


def test_a_cancelled_run_cancels_its_open_task_runs(store: Store, clock: FakeClock) -> None:
    run = live_run(store, clock.now, StateType.CANCELLING)
    running = task_run(store, run.id, clock.now, StateType.RUNNING)

    assert propose(store, run.id, clock, StateType.CANCELLED).type is StateType.CANCELLED

    assert task_states(store, run.id)[running.id].type is StateType.CANCELLED


def test_what_a_rescheduled_attempt_left_is_closed_when_the_next_attempt_starts(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    run = live_run(store, clock.now, run_count=1)
    waiting = task_run(store, run.id, clock.now, StateType.SCHEDULED)  # not active: Lazarus acts
    clock.advance(2 * TEN_MINUTES + 1)
    assert resurrect(store, settings, clock.now).runs_resurrected == 1
    assert task_states(store, run.id)[waiting.id].type is StateType.SCHEDULED  # not yet

    for step in (StateType.PENDING, StateType.RUNNING):
        propose(store, run.id, clock, step)

    closed = task_states(store, run.id)[waiting.id]
    assert closed.type is StateType.CRASHED
    assert "earlier attempt" in (closed.message or "")


def test_a_replayed_proposal_finishes_the_follow_up(store: Store, clock: FakeClock) -> None:
    run = live_run(store, clock.now)
    proposal = StateProposal(
        state=State(type=StateType.FAILED, timestamp=clock.now), transition_id=uuid4()
    )
    first = propose_flow_run_state(store, run.id, proposal, clock.now)
    missed = task_run(store, run.id, clock.now, StateType.RUNNING)  # as if cut short before it

    again = propose_flow_run_state(store, run.id, proposal, clock.now + timedelta(seconds=5))

    assert again == first
    assert first.status is DecisionStatus.ACCEPT
    assert store.flow_runs.get(run.id).run.version == run.version + 1  # applied once
    assert task_states(store, run.id)[missed.id].type is StateType.CRASHED


def test_closing_left_over_task_runs_never_overwrites_a_finished_one(
    store: Store, clock: FakeClock
) -> None:
    run = live_run(store, clock.now)
    finished: list[TaskRun] = [
        task_run(store, run.id, clock.now, kind)
        for kind in (StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED)
    ]
    before = {task.id: store.task_runs.get(task.id).run.version for task in finished}

    propose(store, run.id, clock, StateType.CRASHED)

    after = {task.id: store.task_runs.get(task.id).run for task in finished}
    assert {k: v.version for k, v in after.items()} == before
    assert [v.state.type for v in after.values()] == [task.state.type for task in finished]
