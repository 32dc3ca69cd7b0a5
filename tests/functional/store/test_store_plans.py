"""A plan is applied whole or not at all: one TransactWriteItems of the run and its slots.

The faults are real where moto can make them (a rival's write makes one item's condition
false, so DynamoDB cancels the whole transaction) and injected through a botocore hook where
it cannot (a transaction conflict, throttling, a cancellation reported at any position).
Either way the store must leave the run, the limits and the lease registry exactly as a plan
applied whole, or exactly as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratoflow.orchestration import Plan
from stratoflow.schemas import StateType, TaskRun
from stratoflow_functions.errors import ConflictError, ThrottledError
from stratoflow_functions.store import Store
from tests.functional.store.store_support import T0, plan_for, running_task, save, take_slots
from tests.functional.write_meter import WriteMeter, cancelled

TABLE = "stratoflow-test"


def _holders(store: Store, tag: str) -> list[UUID]:
    return store.concurrency.get(tag).active_slots


def _registry(store: Store, flow_run_id: UUID) -> set[str]:
    ctx = store.flow_runs._ctx
    item = ctx.find(f"FLOW_RUN#{flow_run_id}", "LEASES", ctx.models.lease_registry)
    return set() if item is None or item.leased is None else set(item.leased)


@dataclass(frozen=True)
class Snapshot:
    """What a task-run plan can change: the run, each limit's holders, the registry."""

    version: int
    state: StateType
    held: tuple[str, ...]
    holders: dict[str, frozenset[UUID]]
    registry: frozenset[str]

    @classmethod
    def of(cls, store: Store, task: TaskRun, tags: list[str]) -> Snapshot:
        record = store.task_runs.get(task.id)
        live = {tag for tag in tags if store.concurrency.for_tags([tag])}
        return cls(
            record.run.version,
            record.run.state.type,
            record.held_slots,
            {tag: frozenset(_holders(store, tag)) for tag in sorted(live)},
            frozenset(_registry(store, task.flow_run_id)),
        )


def test_a_plan_with_slots_is_one_transaction_of_run_limits_and_registry(store: Store) -> None:
    for tag in ("a", "b"):
        store.concurrency.put(tag, 2, T0)
    task = running_task(store, ["a", "b"])
    plan = plan_for(store, task.id, StateType.RUNNING, T0)

    with WriteMeter.attach(store, TABLE) as meter:
        assert store.task_runs.apply(plan) is True

    (write,) = meter.writes
    assert write.operation == "TransactWriteItems"
    assert write.keys == [
        (f"TASK_RUN#{task.id}", "TASK_RUN"),
        ("CONCURRENCY#a", "CONCURRENCY"),
        ("CONCURRENCY#b", "CONCURRENCY"),
        (f"FLOW_RUN#{task.flow_run_id}", "LEASES"),
    ]
    assert store.task_runs.get(task.id).held_slots == ("a", "b")
    assert _registry(store, task.flow_run_id) == {f"{task.id}/a", f"{task.id}/b"}


def test_a_plan_without_slot_changes_is_one_conditional_put(store: Store) -> None:
    task = running_task(store, ["untagged-limitless"])
    with WriteMeter.attach(store, TABLE) as meter:
        assert store.task_runs.apply(plan_for(store, task.id, StateType.RUNNING, T0))
    assert meter.counts() == {"PutItem": 1}


def test_giving_back_the_slot_of_a_deleted_limit_applies_the_rest(store: Store) -> None:
    store.concurrency.put("kept", 1, T0)
    store.concurrency.put("gone", 1, T0)
    task = take_slots(store, ["kept", "gone"])
    store.concurrency.delete("gone")
    plan = plan_for(store, task.id, StateType.COMPLETED, T0)

    with WriteMeter.attach(store, TABLE) as meter:
        assert store.task_runs.apply(plan) is True

    assert meter.counts() == {"TransactWriteItems": 1}  # the cancelled try is not a write
    assert store.task_runs.get(task.id).run.state.type is StateType.COMPLETED
    assert _holders(store, "kept") == []
    assert store.concurrency.for_tags(["gone"]) == []  # not recreated by the give-back
    assert _registry(store, task.flow_run_id) == set()


def test_a_transaction_conflict_is_tried_again(store: Store) -> None:
    store.concurrency.put("db", 1, T0)
    task = running_task(store, ["db"])
    plan = plan_for(store, task.id, StateType.RUNNING, T0)

    with WriteMeter.attach(store, TABLE) as meter:
        meter.fail_transaction(lambda _: cancelled(["None", "TransactionConflict", "None"]))
        assert store.task_runs.apply(plan) is True

    assert meter.counts() == {"TransactWriteItems": 1}
    assert _holders(store, "db") == [task.id]


def test_items_that_stay_busy_end_in_a_throttle_with_nothing_written(store: Store) -> None:
    store.concurrency.put("db", 1, T0)
    task = running_task(store, ["db"])
    before = Snapshot.of(store, task, ["db"])
    plan = plan_for(store, task.id, StateType.RUNNING, T0)

    with WriteMeter.attach(store, TABLE) as meter:
        for _ in range(10):
            meter.fail_transaction(lambda _: cancelled(["None", "None", "TransactionConflict"]))
        with pytest.raises(ThrottledError):
            store.task_runs.apply(plan)

    assert Snapshot.of(store, task, ["db"]) == before


# --- the property: whatever fails, nothing is half-applied ---------------------------------

TAGS = ["a", "b"]
CCF, CONFLICT, THROTTLED, FINE = (
    "ConditionalCheckFailed",
    "TransactionConflict",
    "ThrottlingError",
    "None",
)


@dataclass(frozen=True)
class Case:
    """One plan (take two slots, or give them back) and the faults around it."""

    gives_back: bool
    rivals: frozenset[str]
    """"run": a rival moves the run after the plan is made; a tag: a rival takes that limit's
    slot (a take plan) or deletes the limit (a give-back plan)."""
    injected: tuple[str, ...] | None
    """The cancellation reasons reported for the first try, one per item, in the order
    run, limit a, limit b, registry (None: the first try goes to DynamoDB)."""


@st.composite
def cases(draw: st.DrawFn) -> Case:
    gives_back = draw(st.booleans())
    rivals = draw(st.frozensets(st.sampled_from(["run", *TAGS])))
    # Only the faults DynamoDB can report: a give-back's or the registry's condition cannot
    # fail on an existing item (deleting the limit is the rival that makes it fail for real).
    limit_codes = [FINE, CONFLICT, THROTTLED] + ([] if gives_back else [CCF])
    injected = draw(
        st.none()
        | st.tuples(
            st.sampled_from([FINE, CCF, CONFLICT, THROTTLED]),
            st.sampled_from(limit_codes),
            st.sampled_from(limit_codes),
            st.sampled_from([FINE, CONFLICT, THROTTLED]),
        )
    )
    return Case(gives_back, rivals, injected)


def expected_outcome(case: Case) -> str:
    """What the spec says applying comes to: the injected first try, then DynamoDB's."""
    if case.injected is not None:
        codes = case.injected
        if codes[0] in (CCF, CONFLICT):
            return "conflict"
        if CCF in codes[1:3]:
            return "slot_taken"
        if THROTTLED in codes:
            return "throttled"
    if "run" in case.rivals:
        return "conflict"
    if not case.gives_back and case.rivals & set(TAGS):
        return "slot_taken"
    return "applied"


def _prepare(store: Store, case: Case, tags: list[str]) -> tuple[TaskRun, Plan[TaskRun]]:
    for tag in tags:
        store.concurrency.put(tag, 5, T0)
    task = take_slots(store, tags) if case.gives_back else running_task(store, tags)
    target = StateType.COMPLETED if case.gives_back else StateType.RUNNING
    return task, plan_for(store, task.id, target, T0)


def _rival(store: Store, case: Case, task: TaskRun, tags: list[str]) -> None:
    if "run" in case.rivals:
        record = store.task_runs.get(task.id)
        moved = record.run.model_copy(update={"version": record.run.version + 1})
        save(
            store.task_runs,
            moved,
            expected_version=record.run.version,
            held_slots=record.held_slots,
        )
    for name, tag in zip(TAGS, tags, strict=True):
        if name in case.rivals and case.gives_back:
            store.concurrency.delete(tag)
        elif name in case.rivals:
            take_slots(store, [tag])


def _apply(store: Store, plan: Plan[TaskRun]) -> str:
    try:
        return "applied" if store.task_runs.apply(plan) else "slot_taken"
    except ConflictError:
        return "conflict"
    except ThrottledError:
        return "throttled"


def _assert_whole(before: Snapshot, after: Snapshot, task: TaskRun, case: Case) -> None:
    assert after.version == before.version + 1
    mine = {entry for entry in after.registry if entry.startswith(f"{task.id}/")}
    if case.gives_back:
        assert (after.state, after.held, mine) == (StateType.COMPLETED, (), set())
        assert all(task.id not in holders for holders in after.holders.values())
        return
    assert after.state is StateType.RUNNING
    assert len(after.held) == len(TAGS)
    assert mine == {f"{task.id}/{tag}" for tag in after.held}
    assert all(task.id in holders for holders in after.holders.values())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_a_plan_is_applied_whole_or_not_at_all(store: Store, case: Case) -> None:
    _check_whole_or_nothing(store, case)


def _at(position: int, code: str) -> tuple[str, ...]:
    return tuple(code if index == position else FINE for index in range(4))


@pytest.mark.parametrize(
    "case",
    [
        *(Case(gives_back, frozenset(), _at(p, code)) for gives_back in (False, True)
          for p in range(4) for code in (THROTTLED, CONFLICT)),
        *(Case(False, frozenset(), _at(p, CCF)) for p in range(3)),
        Case(True, frozenset(), _at(0, CCF)),
        *(Case(gives_back, frozenset({rival}), None) for gives_back in (False, True)
          for rival in ("run", "a", "b")),
    ],
)  # fmt: skip
def test_a_failure_at_each_item_leaves_no_half_applied_plan(store: Store, case: Case) -> None:
    _check_whole_or_nothing(store, case)


def _check_whole_or_nothing(store: Store, case: Case) -> None:
    suffix = uuid4().hex[:8]  # every example has limits of its own
    tags = [f"{tag}-{suffix}" for tag in TAGS]
    task, plan = _prepare(store, case, tags)
    before = Snapshot.of(store, task, tags)
    _rival(store, case, task, tags)
    rivalled = Snapshot.of(store, task, tags)

    with WriteMeter.attach(store, TABLE) as meter:
        if case.injected is not None:
            meter.fail_transaction(lambda _: cancelled(list(case.injected or ())))
        outcome = _apply(store, plan)

    after = Snapshot.of(store, task, tags)
    assert outcome == expected_outcome(case)
    if outcome != "applied":
        assert after == rivalled, "a plan that was not applied changed something"
        assert meter.writes == []
        return
    assert meter.counts() == {"TransactWriteItems": 1}
    _assert_whole(before, after, task, case)
