"""Concurrency slots (one conditional update per acquire) and the task-run cache."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from stratoflow.schemas import ResultRef, State, StateType
from stratoflow_functions.errors import NotFoundError
from stratoflow_functions.store import Store
from tests.functional.store.store_support import T0, FakeClock


def test_acquire_on_a_full_tag_returns_false(store: Store) -> None:
    store.concurrency.put("db", 2, T0)
    first, second, third = uuid4(), uuid4(), uuid4()

    assert store.concurrency.acquire("db", first) is True
    assert store.concurrency.acquire("db", second) is True
    assert store.concurrency.acquire("db", third) is False
    assert set(store.concurrency.get("db").active_slots) == {first, second}


def test_acquire_again_by_a_holder_succeeds_without_taking_another_slot(store: Store) -> None:
    store.concurrency.put("db", 1, T0)
    holder = uuid4()

    assert store.concurrency.acquire("db", holder) is True
    assert store.concurrency.acquire("db", holder) is True
    assert store.concurrency.get("db").active_slots == [holder]


def test_release_frees_a_slot_for_the_next_run(store: Store) -> None:
    store.concurrency.put("db", 1, T0)
    holder, waiter = uuid4(), uuid4()
    store.concurrency.acquire("db", holder)

    store.concurrency.release("db", holder)

    assert store.concurrency.acquire("db", waiter) is True
    assert store.concurrency.get("db").active_slots == [waiter]


def test_a_zero_limit_admits_nobody(store: Store) -> None:
    store.concurrency.put("frozen", 0, T0)

    assert store.concurrency.acquire("frozen", uuid4()) is False


def test_acquire_or_release_on_a_tag_without_limit(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.concurrency.acquire("none", uuid4())
    store.concurrency.release("none", uuid4())

    with pytest.raises(NotFoundError):
        store.concurrency.get("none")


def test_put_changes_the_limit_but_keeps_slots_and_created(store: Store, clock: FakeClock) -> None:
    store.concurrency.put("db", 1, T0)
    holder = uuid4()
    store.concurrency.acquire("db", holder)

    updated = store.concurrency.put("db", 5, clock.advance(hours=1))

    assert (updated.limit, updated.active_slots, updated.created) == (5, [holder], T0)


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
