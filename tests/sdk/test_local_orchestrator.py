"""The offline orchestrator answers exactly what the kernel plans and applies the plan: the run
as planned (bookkeeping on its own clock), slot leases that expire and are renewed, the cache,
left-over task runs when an attempt ends, transition replays, cancel through the kernel."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratoflow.orchestration import (
    FLOW_NOT_RUNNING_WAIT_SECONDS,
    TAG_SLOT_WAIT_SECONDS,
    plan_flow_run,
    plan_task_run,
)
from stratoflow.runtime import LocalOrchestrator
from stratoflow.runtime.local import StaleVersionError
from stratoflow.schemas import (
    STATE_NAMES,
    DecisionStatus,
    FlowCreate,
    FlowRunCreate,
    FlowRunHeartbeat,
    ResultRef,
    RetryPolicy,
    State,
    StateName,
    StateProposal,
    StateType,
    TaskRunBatch,
    TaskRunBatchItem,
    TaskRunCreate,
)
from tests.support import FakeClock

LEASE = 60.0


def _setup(clock: FakeClock, **kw: object) -> LocalOrchestrator:
    return LocalOrchestrator(clock=clock, lease_seconds=LEASE, **kw)  # type: ignore[arg-type]


def _flow_run(local: LocalOrchestrator, retries: int = 0) -> UUID:
    flow = local.create_flow(FlowCreate(name="f"))
    policy = RetryPolicy(retries=retries)
    return local.create_flow_run(FlowRunCreate(flow_id=flow.id, retry_policy=policy)).id


def _propose_flow(
    local: LocalOrchestrator, run_id: UUID, type_: StateType, name: str = ""
) -> State:
    answer = local.set_flow_run_state(run_id, StateProposal(state=State(type=type_, name=name)))
    assert answer.state is not None
    return answer.state


def _task_run(local: LocalOrchestrator, flow_run_id: UUID, **kw: object) -> UUID:
    body = TaskRunCreate(flow_run_id=flow_run_id, task_key="t", name="t-0", **kw)  # type: ignore[arg-type]
    return local.create_task_run(body).id


def _propose_task(local: LocalOrchestrator, run_id: UUID, state: State) -> DecisionStatus:
    return local.set_task_run_state(run_id, StateProposal(state=state)).status


RUNNING = State(type=StateType.RUNNING)
COMPLETED = State(type=StateType.COMPLETED)

any_state = st.sampled_from(
    [(type_, name) for type_, names in STATE_NAMES.items() for name in names]
).map(lambda pair: State(type=pair[0], name=pair[1]))


# --- answers are the kernel's plans ---------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(proposals=st.lists(any_state, min_size=1, max_size=8), retries=st.integers(0, 2))
def test_every_flow_run_answer_and_record_is_the_kernels_plan(
    proposals: list[State], retries: int
) -> None:
    clock = FakeClock()
    local = _setup(clock, wait_scale=1.0)
    run_id = _flow_run(local, retries)
    for proposed in proposals:
        clock.advance(1)
        before = local.read_flow_run(run_id)
        plan = plan_flow_run(before, proposed, clock.now)
        assert local.set_flow_run_state(run_id, StateProposal(state=proposed)) == plan.answer()
        assert local.read_flow_run(run_id) == (plan.run or before)


@settings(max_examples=60, deadline=None)
@given(proposals=st.lists(any_state, min_size=1, max_size=8), flow_state=any_state)
def test_every_task_run_answer_and_record_is_the_kernels_plan(
    proposals: list[State], flow_state: State
) -> None:
    clock = FakeClock()
    local = _setup(clock, wait_scale=1.0)
    flow_run_id = _flow_run(local)
    local.set_flow_run_state(flow_run_id, StateProposal(state=flow_state))
    flow_run_state = local.read_flow_run(flow_run_id).state
    task_run_id = _task_run(local, flow_run_id)
    for proposed in proposals:
        clock.advance(1)
        before = local.task_runs[task_run_id]
        plan = plan_task_run(before, proposed, clock.now, flow_run_state=flow_run_state)
        assert local.set_task_run_state(task_run_id, StateProposal(state=proposed)) == plan.answer()
        assert local.task_runs[task_run_id] == (plan.run or before)


def test_resuming_a_paused_run_is_not_a_new_attempt() -> None:
    local = _setup(FakeClock())
    run_id = _flow_run(local)
    for type_ in (StateType.RUNNING, StateType.PAUSED, StateType.RUNNING):
        _propose_flow(local, run_id, type_)
    assert local.read_flow_run(run_id).run_count == 1


def test_times_come_from_the_orchestrators_clock_not_the_proposed_states() -> None:
    clock = FakeClock()
    local = _setup(clock)
    run_id = _flow_run(local)
    started = clock.advance(5)
    _propose_flow(local, run_id, StateType.RUNNING)  # the state's own timestamp is utcnow()
    ended = clock.advance(7)
    _propose_flow(local, run_id, StateType.COMPLETED)
    run = local.read_flow_run(run_id)
    assert (run.start_time, run.end_time, run.updated) == (started, ended, ended)


def test_a_failed_attempt_with_retries_left_becomes_awaiting_retry_due_after_the_delay() -> None:
    clock = FakeClock()
    local = _setup(clock)
    flow = local.create_flow(FlowCreate(name="f"))
    policy = RetryPolicy(retries=1, retry_delay_seconds=[30])
    run_id = local.create_flow_run(FlowRunCreate(flow_id=flow.id, retry_policy=policy)).id
    _propose_flow(local, run_id, StateType.RUNNING)
    retry = _propose_flow(local, run_id, StateType.FAILED)
    assert (retry.type, retry.name) == (StateType.SCHEDULED, StateName.AWAITING_RETRY)
    assert retry.scheduled_time == clock.now + timedelta(seconds=30)


# --- waits --------------------------------------------------------------------------------


def test_wait_delays_are_the_kernels_scaled_by_wait_scale() -> None:
    local = _setup(FakeClock(), wait_scale=0.1)
    flow_run_id = _flow_run(local)  # PENDING: its tasks wait for it to run
    answer = local.set_task_run_state(_task_run(local, flow_run_id), StateProposal(state=RUNNING))
    assert answer.status is DecisionStatus.WAIT
    assert answer.delay_seconds == pytest.approx(FLOW_NOT_RUNNING_WAIT_SECONDS * 0.1)


# --- slot leases --------------------------------------------------------------------------


def _limited(clock: FakeClock) -> tuple[LocalOrchestrator, UUID, UUID, UUID]:
    local = _setup(clock, wait_scale=1.0)
    local.concurrency_limits["db"] = 1
    flow_run_id = _flow_run(local)
    _propose_flow(local, flow_run_id, StateType.RUNNING)
    first = _task_run(local, flow_run_id, tags=["db"])
    second = _task_run(local, flow_run_id, tags=["db"])
    return local, flow_run_id, first, second


def test_a_full_tag_answers_wait_until_the_holder_gives_its_slot_back() -> None:
    clock = FakeClock()
    local, _, first, second = _limited(clock)
    assert _propose_task(local, first, RUNNING) is DecisionStatus.ACCEPT
    assert local.slots.holders("db") == {first: clock.now + timedelta(seconds=LEASE)}
    answer = local.set_task_run_state(second, StateProposal(state=RUNNING))
    assert (answer.status, answer.delay_seconds) == (DecisionStatus.WAIT, TAG_SLOT_WAIT_SECONDS)
    assert _propose_task(local, first, COMPLETED) is DecisionStatus.ACCEPT
    assert local.slots.holders("db") == {}
    assert _propose_task(local, second, RUNNING) is DecisionStatus.ACCEPT


def test_an_expired_lease_frees_its_slot_without_a_sweeper() -> None:
    clock = FakeClock()
    local, _, first, second = _limited(clock)
    _propose_task(local, first, RUNNING)
    clock.advance(LEASE + 1)  # the holder died: nobody renews its lease
    assert _propose_task(local, second, RUNNING) is DecisionStatus.ACCEPT
    assert set(local.slots.holders("db")) == {second}


def test_a_heartbeat_renews_the_leases_of_the_flow_runs_task_runs() -> None:
    clock = FakeClock()
    local, flow_run_id, first, second = _limited(clock)
    _propose_task(local, first, RUNNING)
    clock.advance(LEASE - 1)
    local.heartbeat_flow_run(flow_run_id, FlowRunHeartbeat(infrastructure_id="pid:1"))
    clock.advance(2)
    assert _propose_task(local, second, RUNNING) is DecisionStatus.WAIT
    assert local.read_flow_run(flow_run_id).infrastructure_id == "pid:1"


# --- cache --------------------------------------------------------------------------------


def _completed(key: str, expires_in: float | None = None, clock: FakeClock | None = None) -> State:
    expiration = clock.now + timedelta(seconds=expires_in) if clock and expires_in else None
    return State(
        type=StateType.COMPLETED, result=ResultRef(uri="file:///r"), cache_key=key,
        cache_expiration=expiration,
    )  # fmt: skip


def _cached_start(local: LocalOrchestrator, flow_run_id: UUID, key: str) -> State:
    task = _task_run(local, flow_run_id, cache_key=key)
    answer = local.set_task_run_state(task, StateProposal(state=RUNNING))
    assert answer.state is not None
    return answer.state


def test_a_completed_run_feeds_the_cache_and_the_index_survives_the_process(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    local = _setup(clock, cache_dir=tmp_path)
    flow_run_id = _flow_run(local)
    _propose_flow(local, flow_run_id, StateType.RUNNING)
    first = _task_run(local, flow_run_id, cache_key="k")
    _propose_task(local, first, RUNNING)
    _propose_task(local, first, _completed("k"))
    hit = _cached_start(local, flow_run_id, "k")
    assert (hit.type, hit.name, hit.result) == (
        StateType.COMPLETED,
        StateName.CACHED,
        ResultRef(uri="file:///r"),
    )
    again = _setup(clock, cache_dir=tmp_path)  # a new process, the same folder
    other_run = _flow_run(again)
    _propose_flow(again, other_run, StateType.RUNNING)
    assert _cached_start(again, other_run, "k").name == StateName.CACHED


def test_an_expired_cache_entry_is_a_miss() -> None:
    clock = FakeClock()
    local = _setup(clock)
    flow_run_id = _flow_run(local)
    _propose_flow(local, flow_run_id, StateType.RUNNING)
    first = _task_run(local, flow_run_id, cache_key="k")
    _propose_task(local, first, RUNNING)
    _propose_task(local, first, _completed("k", expires_in=10, clock=clock))
    clock.advance(11)
    assert _cached_start(local, flow_run_id, "k").type is StateType.RUNNING


# --- attempts end -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("final", "retries", "left_over"),
    [
        (StateType.FAILED, 0, StateType.CRASHED),
        (StateType.FAILED, 1, StateType.CRASHED),  # the retry ends the attempt too
        (StateType.CANCELLED, 0, StateType.CANCELLED),
    ],
)
def test_task_runs_open_when_an_attempt_ends_are_closed_and_give_their_slots_back(
    final: StateType, retries: int, left_over: StateType
) -> None:
    local = _setup(FakeClock())
    local.concurrency_limits["db"] = 1
    flow_run_id = _flow_run(local, retries)
    _propose_flow(local, flow_run_id, StateType.RUNNING)
    task = _task_run(local, flow_run_id, tags=["db"])
    _propose_task(local, task, RUNNING)
    _propose_flow(local, flow_run_id, final)
    assert local.task_runs[task].state.type is left_over
    assert local.slots.holders("db") == {}


# --- replays, versions, batches, cancel ---------------------------------------------------


def test_a_repeated_transition_gets_the_first_answer_and_changes_nothing() -> None:
    local = _setup(FakeClock())
    run_id = _flow_run(local)
    proposal = StateProposal(state=RUNNING, transition_id=uuid4())
    first = local.set_flow_run_state(run_id, proposal)
    assert local.set_flow_run_state(run_id, proposal) == first
    assert [s.type for s in local.flow_run_states[run_id]] == [StateType.PENDING, StateType.RUNNING]


def test_a_stale_expected_version_is_refused() -> None:
    local = _setup(FakeClock())
    run_id = _flow_run(local)
    _propose_flow(local, run_id, StateType.RUNNING)
    with pytest.raises(StaleVersionError, match="version 1, not 0"):
        local.set_flow_run_state(run_id, StateProposal(state=COMPLETED, expected_version=0))


def test_a_batch_item_stops_at_the_first_answer_that_is_not_accept() -> None:
    local = _setup(FakeClock())
    flow_run_id = _flow_run(local)  # PENDING: RUNNING waits
    task = TaskRunCreate(id=uuid4(), flow_run_id=flow_run_id, task_key="t", name="t-0")
    item = TaskRunBatchItem(task_run=task, states=[RUNNING, COMPLETED])
    (result,) = local.create_task_runs_batch(TaskRunBatch(items=[item])).results
    assert (result.status, result.state.type, result.version) == (
        DecisionStatus.WAIT, StateType.PENDING, 0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("start", "status", "after"),
    [
        ([], DecisionStatus.ACCEPT, StateType.CANCELLED),
        ([StateType.RUNNING], DecisionStatus.ACCEPT, StateType.CANCELLING),
        ([StateType.RUNNING, StateType.CANCELLING], DecisionStatus.ACCEPT, StateType.CANCELLING),
        ([StateType.RUNNING, StateType.COMPLETED], DecisionStatus.ABORT, StateType.COMPLETED),
    ],
)
def test_cancel_proposes_the_kernels_target(
    start: list[StateType], status: DecisionStatus, after: StateType
) -> None:
    local = _setup(FakeClock())
    run_id = _flow_run(local)
    for type_ in start:
        _propose_flow(local, run_id, type_)
    answer = local.cancel_flow_run(run_id)
    assert answer.status is status
    assert answer.state is not None
    assert answer.state.type is after
    assert local.read_flow_run(run_id).state.type is after
