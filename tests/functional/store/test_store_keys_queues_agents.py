"""API keys by hash, work queues by name, agents by id."""

from __future__ import annotations

from uuid import uuid4

import pytest

from stratoflow.schemas import AgentHeartbeat, ApiKeyScope, InfrastructureType, WorkQueueUpdate
from stratoflow_functions.errors import ConflictError, NotFoundError
from stratoflow_functions.store import Store
from tests.functional.store.store_support import T0, FakeClock


def test_api_key_is_found_by_hash_until_revoked(store: Store) -> None:
    key = store.api_keys.create("ci", ApiKeyScope.REGULAR, "hash-1", "sf_abcd", T0)

    assert store.api_keys.get_by_hash("hash-1") == key
    revoked = store.api_keys.revoke(key.id)

    assert revoked.revoked is True
    assert store.api_keys.get_by_hash("hash-1") is None
    assert store.api_keys.get_by_hash("unknown") is None


def test_api_key_revoke_of_unknown_id_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.api_keys.revoke(uuid4())


def test_api_key_with_a_taken_hash_conflicts(store: Store) -> None:
    store.api_keys.create("one", ApiKeyScope.ADMIN, "same", "sf_1", T0)

    with pytest.raises(ConflictError):
        store.api_keys.create("two", ApiKeyScope.ADMIN, "same", "sf_2", T0)


def test_api_keys_list_in_creation_order_with_revoked_ones(store: Store, clock: FakeClock) -> None:
    first = store.api_keys.create("a", ApiKeyScope.ADMIN, "h1", "sf_1", clock.now)
    second = store.api_keys.create("b", ApiKeyScope.REGULAR, "h2", "sf_2", clock.advance(seconds=1))
    store.api_keys.revoke(first.id)

    page = store.api_keys.list(1, None)
    rest = store.api_keys.list(5, page.next_token)

    assert [(k.id, k.revoked) for k in page.items + rest.items] == [
        (first.id, True),
        (second.id, False),
    ]


def test_work_queue_get_or_create_is_implicit_and_keeps_settings(
    store: Store, clock: FakeClock
) -> None:
    created = store.work_queues.get_or_create("default", T0)
    store.work_queues.put("default", WorkQueueUpdate(concurrency_limit=3, paused=True), T0)

    again = store.work_queues.get_or_create("default", clock.advance(hours=1))

    assert (created.name, created.paused, created.concurrency_limit) == ("default", False, None)
    assert (again.concurrency_limit, again.paused, again.created) == (3, True, T0)
    assert store.work_queues.get("default") == again


def test_work_queue_put_creates_and_get_of_unknown_raises(store: Store) -> None:
    queue = store.work_queues.put("gpu", WorkQueueUpdate(concurrency_limit=2), T0)

    assert queue.created == T0
    assert store.work_queues.get("gpu").concurrency_limit == 2
    with pytest.raises(NotFoundError):
        store.work_queues.get("nope")


def test_work_queues_list_by_name(store: Store) -> None:
    for name in ["b", "a", "c"]:
        store.work_queues.get_or_create(name, T0)

    first = store.work_queues.list(2, None)
    rest = store.work_queues.list(2, first.next_token)

    assert [q.name for q in first.items + rest.items] == ["a", "b", "c"]


def test_agent_heartbeat_records_the_last_sighting(store: Store, clock: FakeClock) -> None:
    agent_id = uuid4()
    store.agents.heartbeat(agent_id, AgentHeartbeat(name="a1"), T0)

    agent = store.agents.heartbeat(
        agent_id,
        AgentHeartbeat(name="a1", type=InfrastructureType.DOCKER),
        clock.advance(seconds=30),
    )

    assert (agent.id, agent.type, agent.last_heartbeat) == (
        agent_id,
        InfrastructureType.DOCKER,
        clock.now,
    )
