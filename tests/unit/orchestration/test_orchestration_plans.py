"""Plans: what one decision writes (the run, its books, the slot leases), computed purely."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from stratoflow.orchestration import (
    DEFAULT_LEASE_SECONDS,
    Plan,
    Proposer,
    SlotGiveBack,
    TagSlots,
    TaskTraits,
    TransitionRule,
    needs_answer,
    plan_claim,
    plan_flow_run,
    plan_task_run,
)
from stratoflow.orchestration.context import Decision, ProposalContext
from stratoflow.schemas import (
    DecisionStatus,
    FlowRun,
    ResultRef,
    RetryPolicy,
    StateName,
    StateType,
    TaskRun,
)
from tests.unit.orchestration.orchestration_support import NOW, state

QUEUE_SLOT = "work-queue:default"


def flow_run(current: StateType, **fields: object) -> FlowRun:
    run = {
        "id": uuid4(),
        "name": "run",
        "flow_id": uuid4(),
        "state": state(current),
        "work_queue": "default",
        "created": NOW,
        "updated": NOW,
        **fields,
    }
    return FlowRun.model_validate(run)


def task_run(current: StateType, **fields: object) -> TaskRun:
    run = {
        "id": uuid4(),
        "flow_run_id": uuid4(),
        "task_key": "t",
        "name": "t-0",
        "state": state(current),
        "created": NOW,
        "updated": NOW,
        **fields,
    }
    return TaskRun.model_validate(run)


def limit(
    tag: str, limit: int, holders: dict[UUID, float], holder: UUID, version: int = 0
) -> TagSlots:
    leases = {run_id: NOW + timedelta(seconds=left) for run_id, left in holders.items()}
    return TagSlots.from_leases(tag, limit, leases, holder, NOW, version)


# --- leases ------------------------------------------------------------------------------------


def test_only_live_leases_count_and_expired_ones_are_named() -> None:
    me, live, dead = uuid4(), uuid4(), uuid4()
    slots = limit("db", 2, {live: 30, dead: -1}, me, version=7)
    assert (slots.active, slots.holds_slot, slots.expired, slots.version) == (1, False, (dead,), 7)
    assert slots.available


def test_a_holder_whose_lease_expired_holds_nothing() -> None:
    me = uuid4()
    slots = limit("db", 1, {me: 0}, me)
    assert not slots.holds_slot
    assert slots.expired == (me,)
    assert slots.available


# --- flow runs ---------------------------------------------------------------------------------


def test_a_final_state_gives_back_every_slot_in_the_same_plan() -> None:
    run = flow_run(StateType.RUNNING, run_count=1, concurrency_slots=[QUEUE_SLOT, "deployment:x"])
    plan = plan_flow_run(run, state(StateType.COMPLETED), NOW)
    assert plan.run is not None
    assert plan.writes
    assert plan.give_back == (
        SlotGiveBack(QUEUE_SLOT, run.id),
        SlotGiveBack("deployment:x", run.id),
    )
    assert plan.run.concurrency_slots == []
    assert plan.holds == ()
    assert plan.run.version == run.version + 1
    assert plan.expected_version == run.version
    assert plan.run.end_time == NOW
    assert plan.books is not None
    assert plan.books.end_time == NOW


def test_a_refusal_writes_nothing_and_answers_the_current_state() -> None:
    run = flow_run(StateType.COMPLETED, version=4)
    plan = plan_flow_run(run, state(StateType.RUNNING), NOW)
    assert not plan.writes
    assert plan.take == ()
    assert plan.give_back == ()
    answer = plan.answer()
    assert (answer.status, answer.state, answer.version) == (DecisionStatus.ABORT, run.state, 4)


def test_a_failure_with_retries_left_plans_the_retry_and_keeps_the_slots() -> None:
    run = flow_run(
        StateType.RUNNING,
        run_count=1,
        concurrency_slots=[QUEUE_SLOT],
        retry_policy=RetryPolicy(retries=1, retry_delay_seconds=[30]),
    )
    plan = plan_flow_run(run, state(StateType.FAILED), NOW)
    assert plan.run is not None
    assert plan.run.state.name == StateName.AWAITING_RETRY
    assert plan.run.expected_start_time == NOW + timedelta(seconds=30)
    assert plan.give_back == (SlotGiveBack(QUEUE_SLOT, run.id),)  # SCHEDULED is not active


def test_a_resurrection_is_counted_by_the_plan() -> None:
    run = flow_run(StateType.RUNNING, run_count=1, resurrections=2)
    proposed = state(StateType.SCHEDULED, scheduled_time=NOW)
    plan = plan_flow_run(run, proposed, NOW, proposer=Proposer.CONTROL_PLANE, resurrect=True)
    assert plan.resurrections == 3
    assert plan.run is not None
    assert plan.run.resurrections == 3


def test_resuming_a_paused_run_is_not_a_new_attempt() -> None:
    run = flow_run(StateType.PAUSED, run_count=1, start_time=NOW)
    plan = plan_flow_run(run, state(StateType.RUNNING), NOW + timedelta(minutes=5))
    assert plan.run is not None
    assert plan.run.run_count == 1
    assert plan.run.start_time == NOW


# --- claims ------------------------------------------------------------------------------------


def test_a_claim_leases_a_slot_of_each_limit_and_evicts_expired_holders() -> None:
    run, agent, dead = flow_run(StateType.SCHEDULED), uuid4(), uuid4()
    slots = (limit(QUEUE_SLOT, 1, {dead: -5}, run.id, version=3),)
    plan = plan_claim(run, NOW, agent_id=agent, slots=slots, lease_seconds=60)
    assert plan.run is not None
    assert plan.run.state.type is StateType.PENDING
    assert plan.run.agent_id == agent
    assert plan.run.concurrency_slots == [QUEUE_SLOT]
    (take,) = plan.take
    assert (take.tag, take.holder, take.read_version, take.evict) == (
        QUEUE_SLOT,
        run.id,
        3,
        (dead,),
    )
    assert take.expires == NOW + timedelta(seconds=60)


def test_a_claim_of_a_full_limit_waits_and_writes_nothing() -> None:
    run = flow_run(StateType.SCHEDULED)
    slots = (limit(QUEUE_SLOT, 1, {uuid4(): 30}, run.id),)
    plan = plan_claim(run, NOW, agent_id=None, slots=slots)
    assert plan.decision.status is DecisionStatus.WAIT
    assert not plan.writes
    assert plan.take == ()


def test_a_second_claim_is_refused() -> None:
    plan = plan_claim(flow_run(StateType.PENDING), NOW, agent_id=None)
    assert plan.decision.status is DecisionStatus.ABORT
    assert not plan.writes


# --- task runs ---------------------------------------------------------------------------------


def test_running_takes_a_lease_of_each_limited_tag() -> None:
    run = task_run(StateType.PENDING, tags=["db"])
    slots = (limit("db", 2, {}, run.id, version=1),)
    plan = plan_task_run(
        run, state(StateType.RUNNING), NOW, flow_run_state=state(StateType.RUNNING), tag_slots=slots
    )
    assert [t.tag for t in plan.take] == ["db"]
    assert plan.holds == ("db",)
    assert plan.take[0].expires == NOW + timedelta(seconds=DEFAULT_LEASE_SECONDS)


def test_leaving_running_gives_back_what_the_run_holds() -> None:
    run = task_run(StateType.RUNNING, tags=["db", "gpu"], run_count=1)
    plan = plan_task_run(run, state(StateType.COMPLETED), NOW, held=("db", "gpu"))
    assert {g.tag for g in plan.give_back} == {"db", "gpu"}
    assert plan.holds == ()


def test_a_cache_hit_takes_no_slot() -> None:
    run = task_run(StateType.PENDING, tags=["db"], cache_key="k")
    cached = state(StateType.COMPLETED, result=ResultRef(uri="file:///r"), cache_key="k")
    plan = plan_task_run(
        run,
        state(StateType.RUNNING),
        NOW,
        flow_run_state=state(StateType.RUNNING),
        tag_slots=(limit("db", 1, {}, run.id),),
        cached=cached,
    )
    assert plan.run is not None
    assert plan.run.state.name == StateName.CACHED
    assert plan.take == ()


# --- which task runs wait for an answer ----------------------------------------------------------


def test_only_task_runs_a_rule_could_hold_back_need_an_answer() -> None:
    assert not needs_answer(TaskTraits())
    assert needs_answer(TaskTraits(tags=("db",)))
    assert needs_answer(TaskTraits(cache_key="k"))
    assert needs_answer(TaskTraits(flow_stopping=True))


class _HoldsEverything(TransitionRule):
    def may_hold_back(self, task: TaskTraits) -> bool:
        return True

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        return None


def test_a_new_rule_changes_the_answer_without_an_engine_change() -> None:
    assert needs_answer(TaskTraits(), (_HoldsEverything(),))


# --- leases are never over-granted, whatever the interleaving ----------------------------------


@dataclass
class _Limit:
    """A limit item as a store keeps it: leases, and a version every take bumps."""

    limit: int
    leases: dict[UUID, float] = field(default_factory=dict)
    version: int = 0

    def read(self, holder: UUID, now: float) -> TagSlots:
        leases = {run_id: NOW + timedelta(seconds=t) for run_id, t in self.leases.items()}
        return TagSlots.from_leases(
            QUEUE_SLOT, self.limit, leases, holder, NOW + timedelta(seconds=now), self.version
        )

    def apply(self, plan: Plan[FlowRun]) -> bool:
        for take in plan.take:
            if take.read_version != self.version:
                return False  # the condition of the one transaction fails: nothing applied
        for take in plan.take:
            for gone in take.evict:
                self.leases.pop(gone, None)
            self.leases[take.holder] = (take.expires - NOW).total_seconds()
            self.version += 1
        for back in plan.give_back:
            self.leases.pop(back.holder, None)
        return True

    def live(self, now: float) -> int:
        return sum(1 for expires in self.leases.values() if expires > now)


@settings(max_examples=200, deadline=None)
@given(
    cap=st.integers(min_value=1, max_value=3),
    steps=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["read", "apply", "finish", "tick"])),
        max_size=60,
    ),
)
def test_interleaved_claims_never_exceed_the_limit(cap: int, steps: list[tuple[int, str]]) -> None:
    store = _Limit(cap)
    runs = [flow_run(StateType.SCHEDULED) for _ in range(6)]
    pending: dict[int, Plan[FlowRun]] = {}
    now = 0.0
    for actor, action in steps:
        run = runs[actor]
        if action == "read" and run.state.type is StateType.SCHEDULED:
            slots = (store.read(run.id, now),)
            pending[actor] = plan_claim(
                run, NOW + timedelta(seconds=now), agent_id=None, slots=slots, lease_seconds=10
            )
        elif action == "apply" and actor in pending:
            plan = pending.pop(actor)
            if plan.run is not None and store.apply(plan):
                runs[actor] = plan.run
        elif action == "finish" and run.state.type is StateType.PENDING:
            plan_done = plan_flow_run(run, state(StateType.CRASHED), NOW)
            assert store.apply(plan_done)
            assert plan_done.run is not None
            runs[actor] = plan_done.run
        elif action == "tick":
            now += 4
        assert store.live(now) <= cap
