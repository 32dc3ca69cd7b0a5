"""Flow runs: idempotent creates, version-guarded saves, the queue and heartbeat indexes, lists."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import boto3
import pytest

from stratoflow.schemas import (
    DecisionStatus,
    FlowRunFilter,
    InfrastructureType,
    OrchestrationResult,
    StateType,
)
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import BadRequestError, ConflictError, NotFoundError
from stratoflow_functions.store import Store
from tests.functional.store.store_support import (
    T0,
    FakeClock,
    make_run,
    moved,
    save,
    scheduled_run,
)


def test_create_then_get_returns_the_run(store: Store) -> None:
    run = make_run(parameters={"day": "mon"})

    stored, created = store.flow_runs.create(run)
    record = store.flow_runs.get(run.id)

    assert created is True
    assert stored == run
    assert record.run == run
    assert (record.last_transition_id, record.last_result) == (None, None)


def test_create_of_an_existing_id_returns_the_existing_run(store: Store) -> None:
    run = make_run()
    store.flow_runs.create(run)

    stored, created = store.flow_runs.create(run.model_copy(update={"name": "other"}))

    assert created is False
    assert stored.name == run.name


def test_two_creates_with_one_idempotency_key_make_one_run(store: Store) -> None:
    flow_id = uuid4()
    first = make_run(flow_id=flow_id, idempotency_key="scheduled:d:s:2024-06-01T02:00Z")
    second = make_run(flow_id=flow_id, idempotency_key=first.idempotency_key)

    winner, created = store.flow_runs.create(first)
    loser, created_again = store.flow_runs.create(second)

    assert (created, created_again) == (True, False)
    assert loser.id == winner.id == first.id
    with pytest.raises(NotFoundError):
        store.flow_runs.get(second.id)


def test_idempotency_keys_are_scoped_to_the_flow(store: Store) -> None:
    one = make_run(idempotency_key="same")
    other_flow = make_run(idempotency_key="same")

    assert store.flow_runs.create(one)[1] is True
    assert store.flow_runs.create(other_flow)[1] is True


def test_an_expired_idempotency_key_does_not_block_a_new_run(
    store: Store, clock: FakeClock, settings: Settings
) -> None:
    flow_id = uuid4()
    store.flow_runs.create(make_run(flow_id=flow_id, idempotency_key="k"))
    clock.advance(days=settings.run_retention_days + 1)
    later = make_run(flow_id=flow_id, idempotency_key="k", at=clock.now)

    stored, created = store.flow_runs.create(later)

    assert created is True
    assert stored.id == later.id


def test_reusing_a_run_id_under_another_idempotency_key_conflicts(store: Store) -> None:
    run = make_run(idempotency_key="one")
    store.flow_runs.create(run)

    with pytest.raises(ConflictError) as caught:
        store.flow_runs.create(run.model_copy(update={"idempotency_key": "two"}))
    assert caught.value.code == "already_exists"


def test_two_saves_from_the_same_version_one_wins_one_conflicts(store: Store) -> None:
    run = make_run()
    store.flow_runs.create(run)
    running = moved(run, StateType.RUNNING, T0)
    crashed = moved(run, StateType.CRASHED, T0)

    save(store.flow_runs, running, expected_version=0)
    with pytest.raises(ConflictError) as caught:
        save(store.flow_runs, crashed, expected_version=0)

    assert caught.value.code == "version_conflict"
    assert store.flow_runs.get(run.id).run.state.type == StateType.RUNNING


def test_save_records_the_transition_and_its_answer(store: Store) -> None:
    run = make_run()
    store.flow_runs.create(run)
    running = moved(run, StateType.RUNNING, T0)
    transition = uuid4()
    answer = OrchestrationResult(status=DecisionStatus.ACCEPT, state=running.state, version=1)

    save(store.flow_runs, running, expected_version=0, transition_id=transition, result=answer)
    record = store.flow_runs.get(run.id)

    assert record.run.version == 1
    assert (record.last_transition_id, record.last_result) == (transition, answer)


def test_save_requires_the_version_to_step_by_one(store: Store) -> None:
    run = make_run()
    store.flow_runs.create(run)

    with pytest.raises(ValueError, match="expected_version"):
        save(store.flow_runs, run, expected_version=0)


def test_save_of_a_missing_run_conflicts(store: Store) -> None:
    with pytest.raises(ConflictError):
        save(store.flow_runs, moved(make_run(), StateType.RUNNING, T0), expected_version=0)


def test_run_items_carry_the_plain_attributes_the_stream_publisher_reads(
    store: Store, settings: Settings
) -> None:
    run = make_run(deployment_id=uuid4())
    store.flow_runs.create(run)

    raw = boto3.client("dynamodb", region_name=settings.region).get_item(
        TableName=settings.table_name,
        Key={"pk": {"S": f"FLOW_RUN#{run.id}"}, "sk": {"S": "FLOW_RUN"}},
    )["Item"]

    assert raw["entity"] == {"S": "flow_run"}
    assert raw["id"] == {"S": str(run.id)}
    assert raw["flow_id"] == {"S": str(run.flow_id)}
    assert raw["deployment_id"] == {"S": str(run.deployment_id)}
    assert (raw["state_type"], raw["state_name"]) == ({"S": "PENDING"}, {"S": "Pending"})
    assert raw["flow_name"] == {"S": "etl"}


def test_due_returns_only_scheduled_runs_due_before_the_time_oldest_first(store: Store) -> None:
    late = scheduled_run(T0 - timedelta(minutes=5))
    now = scheduled_run(T0)
    future = scheduled_run(T0 + timedelta(minutes=5))
    other_queue = scheduled_run(T0 - timedelta(minutes=9), work_queue="gpu")
    claimed = scheduled_run(T0 - timedelta(minutes=7))
    for run in [now, future, late, other_queue, claimed]:
        store.flow_runs.create(run)
    save(store.flow_runs, moved(claimed, StateType.PENDING, T0), expected_version=0)

    due = store.flow_runs.due("default", T0, limit=10)

    assert [r.id for r in due] == [late.id, now.id]


def test_due_honours_the_limit_and_infrastructure_types(store: Store) -> None:
    runs = [
        scheduled_run(T0 - timedelta(minutes=n), infrastructure=kind)
        for n, kind in enumerate([InfrastructureType.ECS, InfrastructureType.DOCKER] * 3)
    ]
    for run in runs:
        store.flow_runs.create(run)

    docker = store.flow_runs.due("default", T0, 10, [InfrastructureType.DOCKER])
    two = store.flow_runs.due("default", T0, 2)

    assert {r.infrastructure for r in docker} == {InfrastructureType.DOCKER}
    assert len(docker) == 3
    assert [r.id for r in two] == [runs[5].id, runs[4].id]


def test_heartbeat_updates_the_heartbeat_but_not_the_version(store: Store) -> None:
    run = make_run()
    store.flow_runs.create(run)
    beat = T0 + timedelta(seconds=30)

    returned = store.flow_runs.heartbeat(run.id, beat, "pid-42")
    stored = store.flow_runs.get(run.id).run

    assert returned.heartbeat == stored.heartbeat == beat
    assert stored.infrastructure_id == "pid-42"
    assert stored.version == 0


def test_heartbeat_of_a_missing_run_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.flow_runs.heartbeat(uuid4(), T0, None)


def test_heartbeat_of_a_scheduled_run_keeps_it_in_the_queue_index(store: Store) -> None:
    run = scheduled_run(T0 - timedelta(minutes=1))
    store.flow_runs.create(run)

    store.flow_runs.heartbeat(run.id, T0 + timedelta(hours=1), None)

    assert [r.id for r in store.flow_runs.due("default", T0, 5)] == [run.id]


def test_stale_lists_runs_by_heartbeat_age_oldest_first(store: Store) -> None:
    old, older, fresh = make_run(), make_run(), make_run()
    for run in [old, older, fresh]:
        store.flow_runs.create(run)
        save(store.flow_runs, moved(run, StateType.RUNNING, T0), expected_version=0)
    store.flow_runs.heartbeat(old.id, T0 + timedelta(minutes=2), None)
    store.flow_runs.heartbeat(older.id, T0 + timedelta(minutes=1), None)
    store.flow_runs.heartbeat(fresh.id, T0 + timedelta(minutes=20), None)

    first = store.flow_runs.stale(StateType.RUNNING, T0 + timedelta(minutes=10), 1, None)
    rest = store.flow_runs.stale(StateType.RUNNING, T0 + timedelta(minutes=10), 5, first.next_token)

    assert [r.id for r in first.items + rest.items] == [older.id, old.id]
    assert rest.next_token is None
    assert store.flow_runs.stale(StateType.PENDING, T0 + timedelta(hours=1), 5, None).items == []


def test_a_run_entering_running_is_not_stale_from_an_old_heartbeat(store: Store) -> None:
    run = make_run(heartbeat=T0 - timedelta(hours=1))
    store.flow_runs.create(run)
    save(store.flow_runs, moved(run, StateType.RUNNING, T0), expected_version=0)

    assert store.flow_runs.stale(StateType.RUNNING, T0 - timedelta(minutes=1), 5, None).items == []


def test_stale_rejects_a_state_type_without_heartbeats(store: Store) -> None:
    with pytest.raises(BadRequestError):
        store.flow_runs.stale(StateType.COMPLETED, T0, 5, None)


def test_list_is_newest_first_and_pages_round_trip(store: Store) -> None:
    runs = [make_run(at=T0 + timedelta(minutes=n)) for n in range(5)]
    for run in runs:
        store.flow_runs.create(run)

    seen, token = [], None
    for _ in range(3):
        page = store.flow_runs.list(FlowRunFilter(), 2, token)
        seen += [r.id for r in page.items]
        token = page.next_token
    assert seen == [r.id for r in reversed(runs)]
    assert token is None


def test_list_filters_by_state_flow_deployment_and_creation_time(store: Store) -> None:
    flow_id, deployment_id = uuid4(), uuid4()
    a = make_run(flow_id=flow_id, deployment_id=deployment_id, at=T0)
    b = make_run(flow_id=flow_id, at=T0 + timedelta(minutes=1))
    c = make_run(at=T0 + timedelta(minutes=2))
    for run in [a, b, c]:
        store.flow_runs.create(run)
    save(store.flow_runs, moved(b, StateType.RUNNING, T0), expected_version=0)

    def ids(**fields: object) -> list[object]:
        return [
            r.id for r in store.flow_runs.list(FlowRunFilter.model_validate(fields), 10, None).items
        ]

    assert ids(state=StateType.RUNNING) == [b.id]
    assert ids(state=StateType.PENDING) == [c.id, a.id]
    assert ids(flow_id=flow_id) == [b.id, a.id]
    assert ids(flow_id=flow_id, state=StateType.PENDING) == [a.id]
    assert ids(deployment_id=deployment_id) == [a.id]
    assert ids(created_after=T0 + timedelta(seconds=30)) == [c.id, b.id]
    assert ids(created_before=T0 + timedelta(minutes=1)) == [b.id, a.id]


def test_finished_runs_expire_after_the_retention_and_are_filtered_out(
    store: Store, clock: FakeClock, settings: Settings
) -> None:
    run, kept = make_run(), make_run()
    store.flow_runs.create(run)
    store.flow_runs.create(kept)
    save(store.flow_runs, moved(run, StateType.COMPLETED, T0, end_time=T0), expected_version=0)

    clock.advance(days=settings.run_retention_days, seconds=1)

    with pytest.raises(NotFoundError):
        store.flow_runs.get(run.id)
    assert [r.id for r in store.flow_runs.list(FlowRunFilter(), 10, None).items] == [kept.id]
