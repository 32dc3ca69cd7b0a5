"""Lease renewal: a flow run's heartbeat extends the live leases its registry lists, once a
quarter of the lease has passed, and never revives one that lapsed or was given back."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from stratoflow.schemas import StateType
from stratoflow_functions.store import Store
from tests.functional.store.store_support import T0, FakeClock, plan_for, take_slots
from tests.functional.write_meter import WriteMeter

TABLE = "stratoflow-test"


def _beat(store: Store, clock: FakeClock, flow_run_id: UUID, seconds: float) -> WriteMeter:
    clock.advance(seconds=seconds)
    with WriteMeter.attach(store, TABLE) as meter:
        store.flow_runs.heartbeat(flow_run_id, clock.now, None)
    return meter


def test_a_heartbeat_renews_only_once_a_quarter_of_the_lease_has_passed(
    store: Store, clock: FakeClock
) -> None:
    store.concurrency.put("db", 1, T0)
    task = take_slots(store, ["db"])
    quarter = store.concurrency.lease_seconds / 4

    early = _beat(store, clock, task.flow_run_id, quarter - 1)
    due = _beat(store, clock, task.flow_run_id, 1)
    after = _beat(store, clock, task.flow_run_id, 1)

    assert len(early.writes) == 1  # the heartbeat alone
    assert [w.keys[0][0] for w in due.writes[1:]] == [
        "CONCURRENCY#db",
        f"FLOW_RUN#{task.flow_run_id}",
    ]
    assert len(after.writes) == 1
    renewed_until = T0 + timedelta(seconds=quarter + store.concurrency.lease_seconds)
    (live,) = store.concurrency.slots(["db"], uuid4(), renewed_until - timedelta(seconds=1))
    (lapsed,) = store.concurrency.slots(["db"], uuid4(), renewed_until)
    assert (live.active, lapsed.active) == (1, 0)


def test_a_lapsed_or_given_back_lease_is_never_revived(store: Store, clock: FakeClock) -> None:
    for tag in ("lapsed", "back"):
        store.concurrency.put(tag, 1, T0)
    task = take_slots(store, ["lapsed"])
    sibling = take_slots(store, ["back"])
    store.task_runs.apply(plan_for(store, sibling.id, StateType.COMPLETED, T0))

    _beat(store, clock, task.flow_run_id, store.concurrency.lease_seconds)  # a long silence
    _beat(store, clock, sibling.flow_run_id, store.concurrency.lease_seconds)

    assert store.concurrency.get("lapsed").active_slots == []
    assert store.concurrency.get("back").active_slots == []
    (slots,) = store.concurrency.slots(["lapsed"], uuid4(), clock.now)
    assert slots.expired == (task.id,)  # still lapsed, for the next take to drop


def test_renewing_the_lease_of_a_deleted_limit_does_not_recreate_it(
    store: Store, clock: FakeClock
) -> None:
    store.concurrency.put("gone", 1, T0)
    task = take_slots(store, ["gone"])
    store.concurrency.delete("gone")

    _beat(store, clock, task.flow_run_id, store.concurrency.lease_seconds / 2)

    assert store.concurrency.for_tags(["gone"]) == []
