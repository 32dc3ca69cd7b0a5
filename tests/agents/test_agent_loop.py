"""The shared agent loop on a fake clock and a fake API: claims, backoff, limits, heartbeats,
cancellation, crash reporting and shutdown. Nothing here waits for real time."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from stratoflow.client.errors import ConnectError, ServerError
from stratoflow.schemas import State, StateType
from stratoflow_agents import LaunchError
from stratoflow_agents.handles import RunHandle
from tests.agents.agent_support import (
    FakeAgent,
    FakeHandle,
    flow_run,
    make_agent,
    run_for,
    run_until,
)


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


# --- claiming -------------------------------------------------------------------------------


def test_claims_back_off_exponentially_up_to_the_cap_while_the_queue_is_empty() -> None:
    agent, client, clock = make_agent(poll_interval=2.0, backoff_max=15.0, prefetch_seconds=0)
    run_for(agent, clock, 60)
    assert gaps(client.claim_times)[:5] == [4.0, 8.0, 15.0, 15.0, 15.0]


def test_idle_polls_come_at_least_every_half_prefetch_window() -> None:
    agent, client, clock = make_agent(poll_interval=2.0, backoff_max=15.0, prefetch_seconds=10)
    run_for(agent, clock, 60)
    assert gaps(client.claim_times)[:5] == [4.0, 5.0, 5.0, 5.0, 5.0]


def test_each_claim_asks_for_runs_due_within_the_prefetch_window() -> None:
    wall = datetime(2026, 12, 1, 12, tzinfo=UTC)
    agent, client, clock = make_agent(prefetch_seconds=10, wall_clock=lambda: wall)
    run_for(agent, clock, 1)
    assert [r.due_before for r in client.claim_requests] == [wall + timedelta(seconds=10)]


def test_no_prefetch_claims_only_runs_already_due() -> None:
    agent, client, clock = make_agent(prefetch_seconds=0)
    run_for(agent, clock, 1)
    assert [r.due_before for r in client.claim_requests] == [None]


@pytest.mark.parametrize("prefetch", [-1.0, 61.0])
def test_a_prefetch_window_outside_0_to_60_s_is_refused(prefetch: float) -> None:
    with pytest.raises(ValueError, match="prefetch_seconds"):
        make_agent(prefetch_seconds=prefetch)


def test_claims_back_off_while_the_api_is_unreachable_and_recover_when_it_answers() -> None:
    down = [ConnectError("refused"), ConnectError("refused"), ServerError(503, "x", "down")]
    agent, client, clock = make_agent(
        claims=[*down, [flow_run()]], poll_interval=1.0, prefetch_seconds=0
    )
    run_for(agent, clock, 20)
    assert gaps(client.claim_times)[:4] == [2.0, 4.0, 8.0, 1.0]  # back to the base after a win
    assert len(agent.active) == 1


def test_jitter_shortens_delays_but_never_past_the_cap() -> None:
    agent, client, clock = make_agent(
        poll_interval=2.0, backoff_max=15.0, backoff_jitter=0.5, prefetch_seconds=0
    )
    agent._backoff._rand = lambda: 0.999
    run_for(agent, clock, 100)
    delays = gaps(client.claim_times)
    assert all(d <= 15.0 for d in delays)
    assert delays[0] == pytest.approx(4.0 * (1 - 0.5 * 0.999))
    assert max(delays) == pytest.approx(15.0 * (1 - 0.5 * 0.999))


def test_never_claims_more_than_the_free_slots() -> None:
    claims = [[flow_run(), flow_run()], [flow_run()], [flow_run()]]
    agent, client, clock = make_agent(claims=claims, limit=3, poll_interval=1.0)
    run_for(agent, clock, 10)
    assert [r.limit for r in client.claim_requests] == [3, 1]  # full after two claims
    assert len(agent.active) == 3
    assert client.claims == [[claims[2][0]]]  # the third claim was never made


def test_claims_only_runs_for_its_own_infrastructure_with_its_id() -> None:
    agent, client, _clock = make_agent()
    agent.tick()
    request = client.claim_requests[0]
    assert request.infrastructure == ["local"]
    assert request.agent_id == agent.agent_id


def test_a_freed_slot_is_claimed_again() -> None:
    first = flow_run()
    agent, client, clock = make_agent(claims=[[first], [flow_run()]], limit=1, poll_interval=1.0)
    run_for(agent, clock, 3)
    assert len(client.claim_requests) == 1
    client.move(first.id, State(type=StateType.COMPLETED))
    agent.handles[first.id].exit_code = 0
    run_for(agent, clock, 3)
    assert len(client.claim_requests) == 2
    assert agent.handles[first.id].cleaned


# --- heartbeats -----------------------------------------------------------------------------


def test_heartbeats_every_interval_from_the_start() -> None:
    agent, client, clock = make_agent(heartbeat_interval=30.0)
    run_for(agent, clock, 100)
    assert client.heartbeat_times == [0.0, 30.0, 60.0, 90.0]


def test_a_failed_heartbeat_does_not_stop_the_agent() -> None:
    agent, client, clock = make_agent(heartbeat_interval=10.0)
    client.heartbeat_error = ConnectError("refused")
    run_for(agent, clock, 25)
    assert client.heartbeat_times == [0.0, 10.0, 20.0]
    assert len(client.claim_times) >= 3


# --- crashes --------------------------------------------------------------------------------


def test_a_process_that_dies_while_running_is_reported_crashed_with_its_exit_code() -> None:
    run = flow_run()
    agent, client, _clock = make_agent(claims=[[run]])
    agent.tick()
    client.move(run.id, State(type=StateType.RUNNING))
    agent.handles[run.id].exit_code = -9
    agent.tick()
    state = client.state_of(run.id)
    assert state.type is StateType.CRASHED
    assert "exit code -9 (SIGKILL)" in (state.message or "")
    assert not agent.active


def test_a_crash_report_carries_the_version_read_and_the_processs_last_words() -> None:
    run = flow_run()
    agent, client, _clock = make_agent(claims=[[run]])
    agent.tick()
    client.move(run.id, State(type=StateType.RUNNING))
    agent.handles[run.id].exit_code = 2
    agent.handles[run.id].last_words = "Error: code bundle refused"
    agent.tick()
    state = client.state_of(run.id)
    assert (
        state.message
        == "Flow run infrastructure exited with exit code 2: Error: code bundle refused"
    )
    assert client.conflicts == []


def test_a_killed_process_gets_no_last_words_in_its_crash() -> None:
    run = flow_run()
    agent, client, _clock = make_agent(claims=[[run]])
    agent.tick()
    client.move(run.id, State(type=StateType.RUNNING))
    agent.handles[run.id].exit_code = -9
    agent.handles[run.id].last_words = "an ordinary log line"
    agent.tick()
    assert client.state_of(run.id).message == (
        "Flow run infrastructure exited with exit code -9 (SIGKILL)"
    )


def test_a_crash_settled_by_another_reporter_after_the_read_is_not_recorded_again() -> None:
    run = flow_run()
    agent, client, _clock = make_agent(claims=[[run]])
    agent.tick()
    client.move(run.id, State(type=StateType.RUNNING))
    agent.handles[run.id].exit_code = -9
    retry = State(type=StateType.SCHEDULED, name="AwaitingRetry")

    def zombie_killer_first(run_id: UUID) -> None:
        client.after_read = None
        client.move(run_id, retry)  # the same death, reported between the read and the report

    client.after_read = zombie_killer_first
    agent.tick()
    assert [state.type for _, state in client.conflicts] == [StateType.CRASHED]
    assert client.state_of(run.id) == retry  # the retry stands: counted once
    assert not agent.active


@pytest.mark.parametrize(
    ("state", "name"),
    [(StateType.COMPLETED, ""), (StateType.FAILED, ""), (StateType.SCHEDULED, "AwaitingRetry")],
)
def test_a_run_that_ended_or_awaits_a_retry_is_left_alone_whatever_the_exit_code(
    state: StateType, name: str
) -> None:
    run = flow_run()
    agent, client, _clock = make_agent(claims=[[run]])
    agent.tick()
    client.move(run.id, State(type=state, name=name))
    agent.handles[run.id].exit_code = 1
    agent.tick()
    assert client.proposals == []
    assert client.state_of(run.id).type is state
    assert not agent.active


def test_a_launch_failure_is_reported_crashed() -> None:
    run = flow_run()

    def refuse(claimed: object) -> object:
        raise LaunchError("no such executable")

    agent, client, _clock = make_agent(claims=[[run]], on_launch=refuse)
    agent.tick()
    state = client.state_of(run.id)
    assert state.type is StateType.CRASHED
    assert "no such executable" in (state.message or "")
    assert not agent.active


# --- the run's infrastructure id ------------------------------------------------------------


def test_a_launched_run_gets_its_handles_infrastructure_id_at_once() -> None:
    run = flow_run()
    agent, client, _clock = make_agent(claims=[[run]])
    agent.tick()
    assert client.run_heartbeats == [(run.id, f"fake:{run.id}")]
    assert client.runs[run.id].infrastructure_id == f"fake:{run.id}"


def test_a_failure_to_record_the_infrastructure_id_leaves_the_run_running() -> None:
    run = flow_run()
    agent, client, clock = make_agent(claims=[[run]])
    client.run_heartbeat_error = ConnectError("refused")
    agent.tick()
    assert client.run_heartbeats == [(run.id, f"fake:{run.id}")]  # tried once, then let be
    assert list(agent.active) == [run.id]
    client.move(run.id, State(type=StateType.CANCELLING))
    run_for(agent, clock, 6)  # still watched like any run
    assert client.state_of(run.id).type is StateType.CANCELLED


def test_a_launch_failure_records_no_infrastructure_id() -> None:
    def refuse(claimed: object) -> object:
        raise LaunchError("no such executable")

    agent, client, _clock = make_agent(claims=[[flow_run()]], on_launch=refuse)
    agent.tick()
    assert client.run_heartbeats == []


# --- cancellation ---------------------------------------------------------------------------


def test_a_cancelling_run_is_recorded_cancelled_then_terminated() -> None:
    run = flow_run()
    agent, client, clock = make_agent(claims=[[run]], cancel_check_interval=5.0)
    agent.tick()
    client.move(run.id, State(type=StateType.CANCELLING))
    run_until(agent, clock, lambda: not agent.active, limit=10)
    assert client.state_of(run.id).type is StateType.CANCELLED
    assert agent.handles[run.id].signals == ["TERM"]
    assert [s.type for _, s in client.proposals] == [StateType.CANCELLED]


def test_a_run_that_ignores_terminate_is_killed_after_the_cancel_grace() -> None:
    run = flow_run()
    agent, client, clock = make_agent(
        claims=[[run]], cancel_check_interval=1.0, cancel_grace=10.0, ignores_terminate=True
    )
    agent.tick()
    client.move(run.id, State(type=StateType.CANCELLING))
    run_until(agent, clock, lambda: bool(agent.handles[run.id].signals), limit=2)
    terminated_at = clock.now
    run_until(agent, clock, lambda: not agent.active, limit=12)
    assert agent.handles[run.id].signals == ["TERM", "KILL"]
    assert clock.now - terminated_at == pytest.approx(10.0, abs=1.0)
    assert client.state_of(run.id).type is StateType.CANCELLED


def test_cancellation_is_checked_on_the_cancel_check_cadence() -> None:
    run = flow_run()
    agent, client, clock = make_agent(claims=[[run]], cancel_check_interval=5.0)
    agent.tick()
    client.move(run.id, State(type=StateType.CANCELLING))
    run_for(agent, clock, 4.5)
    assert agent.handles[run.id].signals == []
    run_for(agent, clock, 1.0)
    assert agent.handles[run.id].signals == ["TERM"]


# --- shutdown -------------------------------------------------------------------------------


def test_shutdown_stops_claiming_and_lets_runs_finish_within_the_grace() -> None:
    run = flow_run()
    agent, client, clock = make_agent(claims=[[run]], shutdown_grace=20.0)
    agent.tick()
    claims_before = len(client.claim_requests)
    agent.request_stop()
    run_for(agent, clock, 5)
    client.move(run.id, State(type=StateType.COMPLETED))
    agent.handles[run.id].exit_code = 0
    agent.run()  # returns: stopping and nothing left
    assert agent.finished
    assert len(client.claim_requests) == claims_before
    assert agent.handles[run.id].signals == []
    assert client.proposals == []


def test_shutdown_stops_runs_after_the_grace_and_reports_them_crashed() -> None:
    stubborn, polite = flow_run(), flow_run()
    agent, client, clock = make_agent(
        claims=[[stubborn, polite]], shutdown_grace=20.0, cancel_grace=10.0
    )
    agent.tick()
    for run in (stubborn, polite):
        client.move(run.id, State(type=StateType.RUNNING))
    agent.handles[stubborn.id].ignores_terminate = True
    agent.request_stop()
    start = clock.now
    agent.run()
    assert clock.now - start == pytest.approx(30.0, abs=1.5)  # grace, then the kill grace
    assert agent.handles[stubborn.id].signals == ["TERM", "KILL"]
    assert agent.handles[polite.id].signals == ["TERM"]
    for run in (stubborn, polite):
        state = client.state_of(run.id)
        assert state.type is StateType.CRASHED
        assert "agent shut down" in (state.message or "")


def test_a_second_stop_request_skips_the_shutdown_grace() -> None:
    run = flow_run()
    agent, _client, clock = make_agent(claims=[[run]], shutdown_grace=1000.0)
    agent.tick()
    agent.request_stop()
    agent.tick()
    agent.request_stop()
    agent.run()
    assert clock.now < 5
    assert agent.handles[run.id].signals == ["TERM"]


def test_a_failing_loop_kills_and_reports_its_runs_before_raising() -> None:
    run = flow_run()
    agent, client, _clock = make_agent(claims=[[run]])
    agent.tick()
    client.move(run.id, State(type=StateType.RUNNING))

    def broken_sleep(seconds: float) -> None:
        raise RuntimeError("bug")

    agent._sleep = broken_sleep
    with pytest.raises(RuntimeError, match="bug"):
        agent.run()
    assert agent.handles[run.id].signals == ["KILL"]
    assert client.state_of(run.id).type is StateType.CRASHED


# --- a restarted agent finds its runs again -------------------------------------------------


def test_a_restarted_agent_watches_the_open_runs_it_finds_again_and_releases_the_rest() -> None:
    agent, client, clock = make_agent()
    running, finished = flow_run(StateType.RUNNING), flow_run(StateType.COMPLETED)
    client.runs.update({running.id: running, finished.id: finished})
    handles = {run.id: FakeHandle(run.id) for run in (running, finished)}

    agent.adopt(handles)

    assert list(agent.active) == [running.id]
    assert client.run_heartbeats == [(running.id, f"fake:{running.id}")]  # the open one only
    assert handles[finished.id].cleaned
    assert not handles[running.id].cleaned
    client.move(running.id, State(type=StateType.CANCELLING))
    run_for(agent, clock, 6)  # the adopted run is watched like a launched one
    assert handles[running.id].signals == ["TERM"]
    assert client.state_of(running.id).type is StateType.CANCELLED


def test_a_restarted_agent_leaves_another_queues_run_and_its_infrastructure_alone() -> None:
    agent, client, _clock = make_agent()  # work queue "q"
    theirs = flow_run(StateType.RUNNING, work_queue="gpu")
    client.runs[theirs.id] = theirs
    handle = FakeHandle(theirs.id)

    agent.adopt({theirs.id: handle})

    assert agent.active == {}
    assert (handle.cleaned, handle.signals, client.run_heartbeats) == (False, [], [])


def test_a_restarted_agent_leaves_a_run_its_api_does_not_know_alone() -> None:
    agent, _client, _clock = make_agent()
    stranger = flow_run(StateType.RUNNING)  # another control plane's run on a shared daemon
    handle = FakeHandle(stranger.id)

    agent.adopt({stranger.id: handle})

    assert agent.active == {}
    assert (handle.cleaned, handle.signals) == (False, [])


def test_run_adopts_what_recover_finds_before_its_first_claim() -> None:
    running = flow_run(StateType.RUNNING)
    found = FakeHandle(running.id)

    class Restarted(FakeAgent):
        def recover(self) -> dict[UUID, RunHandle]:
            return {running.id: found}

    agent, client, clock = make_agent()
    restarted = Restarted(agent.config, client, clock=clock, sleep=clock.sleep, rand=lambda: 0.0)
    client.runs[running.id] = running
    client.after_read = lambda _run_id: restarted.request_stop()  # stop once it has looked

    restarted.run()

    assert client.claim_requests == []  # asked to stop before claiming: only the adopted run
    assert found.signals[0] == "TERM"  # shut down with the agent, as a launched run would be
    assert found.cleaned
