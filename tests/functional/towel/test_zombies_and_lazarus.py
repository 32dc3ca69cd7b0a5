"""The zombie killer and Lazarus over moto: stale runs, their task runs, retries, limits; and a
crash decided by the same rule whether the zombie killer or an agent reports it."""

from __future__ import annotations

from datetime import timedelta

from stratoflow.schemas import DecisionStatus, State, StateProposal, StateType
from stratoflow_functions.config import Settings
from stratoflow_functions.services.flow_run_states import propose_flow_run_state
from stratoflow_functions.services.towel import kill_zombies, resurrect
from stratoflow_functions.store import Store
from tests.functional.store.store_support import save
from tests.functional.towel.towel_support import live_run, task_run
from tests.support import FakeClock

TEN_MINUTES = 600


def test_a_running_run_silent_past_the_threshold_is_crashed_with_its_open_tasks(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    run = live_run(store, clock.now)
    running = task_run(store, run.id, clock.now, StateType.RUNNING)
    waiting = task_run(store, run.id, clock.now, StateType.SCHEDULED)
    done = task_run(store, run.id, clock.now, StateType.COMPLETED)
    clock.advance(TEN_MINUTES + 1)

    report = kill_zombies(store, settings, clock.now)

    crashed = store.flow_runs.get(run.id).run
    assert (report.zombies_killed, report.retries_scheduled) == (1, 0)
    assert crashed.state.type is StateType.CRASHED
    assert crashed.state.message is not None
    assert crashed.state.message.startswith("No heartbeat detected")
    for task in (running, waiting):
        closed = store.task_runs.get(task.id).run.state
        assert closed.type is StateType.CRASHED
        assert crashed.state.message in (closed.message or "")
    assert store.task_runs.get(done.id).run.state.type is StateType.COMPLETED


def test_a_zombie_with_flow_retries_left_awaits_retry_and_its_tasks_crash(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    run = live_run(store, clock.now, retries=2, run_count=1)
    running = task_run(store, run.id, clock.now, StateType.RUNNING)
    clock.advance(TEN_MINUTES + 1)

    report = kill_zombies(store, settings, clock.now)

    retried = store.flow_runs.get(run.id).run
    assert (report.zombies_killed, report.retries_scheduled) == (1, 1)
    assert (retried.state.type, retried.state.name) == (StateType.SCHEDULED, "AwaitingRetry")
    assert retried.state.scheduled_time == clock.now + timedelta(seconds=30)
    assert (retried.run_count, retried.version) == (1, run.version + 1)
    # The next attempt makes new task runs: this one can never finish.
    assert store.task_runs.get(running.id).run.state.type is StateType.CRASHED


def test_a_crash_reported_by_an_agent_or_by_the_zombie_killer_is_retried_the_same_way(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    by_agent = live_run(store, clock.now, retries=1, run_count=1)
    by_zombie_killer = live_run(store, clock.now, retries=1, run_count=1)
    clock.advance(TEN_MINUTES + 1)
    agent_crash = State(type=StateType.CRASHED, message="exit code -9 (SIGKILL)")
    answer = propose_flow_run_state(
        store, by_agent.id, StateProposal(state=agent_crash), clock.now
    )  # what POST /flow-runs/{id}/state does for the agent
    assert answer.status is DecisionStatus.REJECT
    assert kill_zombies(store, settings, clock.now).retries_scheduled == 1  # only its own run

    agent_run = store.flow_runs.get(by_agent.id).run
    zombie_run = store.flow_runs.get(by_zombie_killer.id).run
    for retried in (agent_run, zombie_run):
        assert (retried.state.type, retried.state.name) == (StateType.SCHEDULED, "AwaitingRetry")
        assert retried.state.scheduled_time == clock.now + timedelta(seconds=30)
        assert (retried.run_count, retried.version) == (1, by_agent.version + 1)
    assert "exit code -9" in (agent_run.state.message or "")
    assert "No heartbeat detected" in (zombie_run.state.message or "")


def test_a_retried_crash_is_counted_once_and_the_next_crash_is_final(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    run = live_run(store, clock.now, retries=1, run_count=1)
    clock.advance(TEN_MINUTES + 1)
    kill_zombies(store, settings, clock.now)
    again = kill_zombies(store, settings, clock.now)  # the same death seen twice
    assert (again.zombies_killed, store.flow_runs.get(run.id).run.run_count) == (0, 1)
    clock.advance(31)
    for step in (StateType.PENDING, StateType.RUNNING):  # an agent claims it, the engine starts
        step_state = State(type=step, timestamp=clock.now)
        propose_flow_run_state(store, run.id, StateProposal(state=step_state), clock.now)
    assert store.flow_runs.get(run.id).run.run_count == 2
    clock.advance(TEN_MINUTES + 60)

    kill_zombies(store, settings, clock.now)

    final = store.flow_runs.get(run.id).run
    assert (final.state.type, final.run_count) == (StateType.CRASHED, 2)


def test_a_run_that_heartbeated_recently_is_left_alone(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    run = live_run(store, clock.now)
    clock.advance(TEN_MINUTES - 60)
    store.flow_runs.heartbeat(run.id, clock.now, None)
    clock.advance(120)

    report = kill_zombies(store, settings, clock.now)

    assert report.zombies_killed == 0
    assert store.flow_runs.get(run.id).run.state.type is StateType.RUNNING


def test_a_stale_cancelling_run_becomes_cancelled(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    run = live_run(store, clock.now, StateType.CANCELLING)
    clock.advance(TEN_MINUTES + 1)

    report = kill_zombies(store, settings, clock.now)
    again = kill_zombies(store, settings, clock.now)

    assert (report.cancellations_finished, again.cancellations_finished) == (1, 0)
    assert store.flow_runs.get(run.id).run.state.type is StateType.CANCELLED


def test_lazarus_reschedules_a_stuck_pending_run_at_most_three_times_then_fails_it(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    run = live_run(store, clock.now, StateType.PENDING, run_count=0)
    outcomes = []
    for _ in range(4):
        clock.advance(TEN_MINUTES + 1)
        report = resurrect(store, settings, clock.now)
        outcomes.append((report.runs_resurrected, report.runs_failed))
        current = store.flow_runs.get(run.id).run
        if current.state.type is StateType.SCHEDULED:
            _claim_again(store, current, clock)

    final = store.flow_runs.get(run.id).run
    assert outcomes == [(1, 0), (1, 0), (1, 0), (0, 1)]
    assert final.resurrections == 3
    assert final.state.type is StateType.FAILED
    assert final.state.message is not None
    assert "rescheduled 3 times" in final.state.message


def _claim_again(store: Store, run, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    from stratoflow.schemas import State

    pending = run.model_copy(
        update={
            "state": State(type=StateType.PENDING, timestamp=clock.now),
            "version": run.version + 1,
        }
    )
    save(store.flow_runs, pending, expected_version=run.version)


def test_lazarus_leaves_runs_with_active_task_runs_and_fresh_runs_alone(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    busy = live_run(store, clock.now, StateType.PENDING, run_count=0)
    task_run(store, busy.id, clock.now, StateType.PENDING)
    clock.advance(TEN_MINUTES + 1)
    fresh = live_run(store, clock.now, StateType.PENDING, run_count=0)

    report = resurrect(store, settings, clock.now)

    assert report.runs_resurrected == 0
    assert store.flow_runs.get(busy.id).run.state.type is StateType.PENDING
    assert store.flow_runs.get(fresh.id).run.state.type is StateType.PENDING


def test_lazarus_takes_running_runs_only_past_twice_the_zombie_threshold(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    run = live_run(store, clock.now, StateType.RUNNING)
    clock.advance(TEN_MINUTES + 1)
    early = resurrect(store, settings, clock.now)
    clock.advance(TEN_MINUTES)

    late = resurrect(store, settings, clock.now)

    state = store.flow_runs.get(run.id).run
    assert (early.runs_resurrected, late.runs_resurrected) == (0, 1)
    assert (state.state.type, state.resurrections) == (StateType.SCHEDULED, 1)


def test_lazarus_crashes_a_stuck_run_that_has_no_work_queue(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    run = live_run(store, clock.now, StateType.PENDING, run_count=0, work_queue=None)
    clock.advance(TEN_MINUTES + 1)

    report = resurrect(store, settings, clock.now)

    assert report.runs_crashed == 1
    assert store.flow_runs.get(run.id).run.state.type is StateType.CRASHED
