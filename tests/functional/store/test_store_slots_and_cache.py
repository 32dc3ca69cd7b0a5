"""Concurrency limits whose slots are leases (taken by plans), and the task-run cache."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from stratoflow.schemas import ResultRef, State, StateType
from stratoflow_functions.errors import NotFoundError
from stratoflow_functions.store import Store, build_store
from tests.functional.store.store_support import (
    T0,
    FakeClock,
    plan_for,
    running_task,
    take_slots,
)


def test_a_take_holds_a_lease_that_counts_until_it_expires(store: Store) -> None:
    store.concurrency.put("db", 2, T0)
    holder = take_slots(store, ["db"]).id
    expiry = T0 + timedelta(seconds=store.concurrency.lease_seconds)

    (live,) = store.concurrency.slots(["db"], uuid4(), expiry - timedelta(seconds=1))
    (lapsed,) = store.concurrency.slots(["db"], uuid4(), expiry)

    assert (live.active, live.expired, live.available) == (1, (), True)
    assert (lapsed.active, lapsed.expired) == (0, (holder,))
    assert lapsed.version == live.version == 2  # the put, then the take
    assert store.concurrency.get("db").active_slots == [holder]


def test_a_lease_lasts_the_slot_lease_setting(store: Store, settings) -> None:
    short = build_store(replace(settings, slot_lease_seconds=60), clock=lambda: T0)
    short.concurrency.put("db", 1, T0)
    holder = take_slots(short, ["db"]).id

    (live,) = short.concurrency.slots(["db"], uuid4(), T0 + timedelta(seconds=59))
    (lapsed,) = short.concurrency.slots(["db"], uuid4(), T0 + timedelta(seconds=60))

    assert (live.active, lapsed.active, lapsed.expired) == (1, 0, (holder,))


def test_the_api_view_lists_only_holders_with_a_live_lease(store: Store, clock: FakeClock) -> None:
    store.concurrency.put("db", 5, T0)
    first = take_slots(store, ["db"]).id
    clock.advance(seconds=store.concurrency.lease_seconds / 2)
    second = take_slots(store, ["db"], clock.now).id

    assert set(store.concurrency.get("db").active_slots) == {first, second}
    clock.advance(seconds=store.concurrency.lease_seconds / 2)
    assert store.concurrency.get("db").active_slots == [second]
    assert store.concurrency.list(10, None).items[0].active_slots == [second]
    assert store.concurrency.for_tags(["db"])[0].active_slots == [second]


def test_a_holder_sees_its_own_live_lease(store: Store) -> None:
    store.concurrency.put("db", 1, T0)
    holder = take_slots(store, ["db"]).id

    (own,) = store.concurrency.slots(["db"], holder, T0)
    (other,) = store.concurrency.slots(["db"], uuid4(), T0)

    assert (own.holds_slot, own.available) == (True, True)
    assert (other.holds_slot, other.available) == (False, False)


def test_a_take_drops_expired_holders_in_the_same_write(store: Store, clock: FakeClock) -> None:
    store.concurrency.put("db", 1, T0)
    dead = take_slots(store, ["db"]).id
    clock.advance(seconds=store.concurrency.lease_seconds + 1)

    alive = take_slots(store, ["db"], clock.now).id

    (slots,) = store.concurrency.slots(["db"], alive, clock.now)
    assert (slots.active, slots.holds_slot, slots.expired) == (1, True, ())
    assert dead != alive


def test_a_take_on_a_limit_changed_since_it_was_read_writes_nothing(store: Store) -> None:
    store.concurrency.put("db", 5, T0)
    late = running_task(store, ["db"])
    plan = plan_for(store, late.id, StateType.RUNNING, T0)
    rival = take_slots(store, ["db"]).id  # takes a slot between the read and the write

    assert store.task_runs.apply(plan) is False

    assert store.task_runs.get(late.id).run == late
    assert store.concurrency.get("db").active_slots == [rival]


def test_put_changes_the_limit_keeps_leases_and_created_and_bumps_the_version(
    store: Store, clock: FakeClock
) -> None:
    store.concurrency.put("db", 1, T0)
    holder = take_slots(store, ["db"]).id
    (before,) = store.concurrency.slots(["db"], holder, T0)

    updated = store.concurrency.put("db", 5, clock.advance(hours=1))

    (after,) = store.concurrency.slots(["db"], holder, T0)
    assert (updated.limit, updated.active_slots, updated.created) == (5, [], T0)  # lease lapsed
    assert (after.limit, after.holds_slot, after.version) == (5, True, before.version + 1)


def test_a_limit_stored_before_leases_existed_takes_slots(store: Store, settings) -> None:
    """An item with the old slot set and no lease map or version: it reads as empty and a take
    gets it a lease map (DynamoDB cannot set `leases.#holder` under an absent map)."""
    import boto3

    table = boto3.resource("dynamodb", region_name="us-east-1").Table(settings.table_name)
    table.put_item(
        Item={
            "pk": "CONCURRENCY#db", "sk": "CONCURRENCY", "entity": "concurrency_limit",
            "tag": "db", "slot_limit": 1, "slots": {str(uuid4())},
            "created": "2024-06-01T12:00:00.000000Z",
            "gsi1pk": "CONCURRENCY_LIMITS", "gsi1sk": "db",
        }
    )  # fmt: skip

    holder = take_slots(store, ["db"]).id

    assert store.concurrency.get("db").active_slots == [holder]
    assert (
        table.get_item(Key={"pk": "CONCURRENCY#db", "sk": "CONCURRENCY"})["Item"]["lease_version"]
        == 1
    )


def test_slots_skip_tags_without_a_limit_and_keep_the_order(store: Store) -> None:
    store.concurrency.put("b", 1, T0)
    store.concurrency.put("a", 2, T0)

    found = store.concurrency.slots(["x", "a", "b", "a"], uuid4(), T0)

    assert [(s.tag, s.limit) for s in found] == [("a", 2), ("b", 1)]
    assert store.concurrency.slots([], uuid4(), T0) == ()
    with pytest.raises(NotFoundError):
        store.concurrency.get("none")


def test_for_tags_returns_only_tags_with_a_limit_in_order(store: Store) -> None:
    store.concurrency.put("b", 1, T0)
    store.concurrency.put("a", 2, T0)

    found = store.concurrency.for_tags(["x", "a", "b", "a"])

    assert [(c.tag, c.limit) for c in found] == [("a", 2), ("b", 1)]
    assert store.concurrency.for_tags([]) == []


def test_concurrency_list_pages_by_tag_and_delete(store: Store) -> None:
    for tag in ["c", "a", "b"]:
        store.concurrency.put(tag, 1, T0)
    store.concurrency.delete("b")

    first = store.concurrency.list(1, None)
    rest = store.concurrency.list(5, first.next_token)

    assert [c.tag for c in first.items + rest.items] == ["a", "c"]
    with pytest.raises(NotFoundError):
        store.concurrency.delete("b")


def _completed(expires_in: timedelta | None) -> State:
    return State(
        type=StateType.COMPLETED,
        timestamp=T0,
        result=ResultRef(uri="s3://results/abc"),
        cache_key="extract-mon",
        cache_expiration=None if expires_in is None else T0 + expires_in,
    )


def test_cache_returns_the_state_until_it_expires(store: Store) -> None:
    state = _completed(timedelta(hours=6))
    store.cache.put("extract-mon", state)

    assert store.cache.get("extract-mon", T0 + timedelta(hours=5)) == state
    assert store.cache.get("extract-mon", T0 + timedelta(hours=6)) is None
    assert store.cache.get("other", T0) is None


def test_cache_entries_past_their_ttl_are_filtered_even_if_not_deleted(
    store: Store, clock: FakeClock
) -> None:
    store.cache.put("k", _completed(timedelta(minutes=1)))
    clock.advance(minutes=2)

    assert store.cache.get("k", T0) is None


def test_cache_without_expiration_never_expires(store: Store) -> None:
    store.cache.put("k", _completed(None))

    assert store.cache.get("k", T0 + timedelta(days=3650)) is not None


def test_cache_put_refuses_a_state_that_is_not_a_completed_result(store: Store) -> None:
    with pytest.raises(ValueError, match="COMPLETED"):
        store.cache.put("k", State(type=StateType.FAILED))
