"""Flows and deployments: derived ids, upserts that keep what must not change, pagination."""

from __future__ import annotations

from uuid import uuid4

import pytest

from stratoflow.schemas import (
    CronSchedule,
    DeploymentCreate,
    DeploymentScheduleCreate,
    Flow,
    FlowCreate,
    IntervalSchedule,
)
from stratoflow_functions.errors import BadRequestError, ConflictError, NotFoundError
from stratoflow_functions.store import Store
from tests.functional.store.store_support import T0, FakeClock


def _deployment(flow: Flow, name: str = "nightly", **fields: object) -> DeploymentCreate:
    return DeploymentCreate.model_validate(
        {"flow_id": flow.id, "name": name, "entrypoint": "flows/etl.py:etl", **fields}
    )


def _cron(expr: str, **params: object) -> DeploymentScheduleCreate:
    return DeploymentScheduleCreate(schedule=CronSchedule(cron=expr), parameters=dict(params))


def test_flow_create_or_get_returns_the_same_flow_for_the_same_name(store: Store) -> None:
    first, created = store.flows.create_or_get(FlowCreate(name="etl", tags=["a"]), T0)
    again, created_again = store.flows.create_or_get(FlowCreate(name="etl"), T0)

    assert (created, created_again) == (True, False)
    assert again == first
    assert store.flows.get(first.id) == first


def test_flow_get_of_unknown_id_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.flows.get(uuid4())


def test_flow_list_pages_by_name_and_round_trips_the_token(store: Store) -> None:
    for name in ["c", "a", "e", "b", "d"]:
        store.flows.create_or_get(FlowCreate(name=name), T0)

    first = store.flows.list(2, None)
    second = store.flows.list(2, first.next_token)
    last = store.flows.list(2, second.next_token)

    assert [f.name for f in first.items + second.items + last.items] == ["a", "b", "c", "d", "e"]
    assert last.next_token is None


def test_list_with_a_bad_token_raises_invalid_next_token(store: Store) -> None:
    with pytest.raises(BadRequestError) as caught:
        store.flows.list(2, "not-a-token!!")
    assert caught.value.code == "invalid_next_token"


def test_list_with_a_token_from_another_list_is_rejected(store: Store) -> None:
    flow, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    for name in ["x", "y"]:
        store.deployments.upsert(_deployment(flow, name), flow, T0)
    token = store.deployments.list(1, None).next_token
    assert token is not None

    with pytest.raises(BadRequestError) as caught:
        store.flows.list(1, token)
    assert caught.value.code == "invalid_next_token"


def test_deployment_upsert_creates_then_updates_in_place(store: Store, clock: FakeClock) -> None:
    flow, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    first, created = store.deployments.upsert(_deployment(flow, description="v1"), flow, T0)
    later = clock.advance(hours=1)
    second, created_again = store.deployments.upsert(
        _deployment(flow, description="v2"), flow, later
    )

    assert (created, created_again) == (True, False)
    assert second.id == first.id
    assert (second.created, second.updated, second.description) == (T0, later, "v2")
    assert store.deployments.get(first.id) == second


def test_deployment_upsert_keeps_ids_of_unchanged_schedules(store: Store) -> None:
    flow, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    kept, dropped = _cron("0 2 * * *"), _cron("0 3 * * *")
    first, _ = store.deployments.upsert(_deployment(flow, schedules=[kept, dropped]), flow, T0)
    paused_kept = kept.model_copy(update={"active": False})
    new = DeploymentScheduleCreate(schedule=IntervalSchedule(interval_seconds=60))
    second, _ = store.deployments.upsert(_deployment(flow, schedules=[new, paused_kept]), flow, T0)

    assert second.schedules[1].id == first.schedules[0].id
    assert second.schedules[1].active is False
    assert second.schedules[0].id not in {s.id for s in first.schedules}


def test_identical_schedules_of_one_deployment_get_distinct_ids(store: Store) -> None:
    flow, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    twice = [_cron("0 2 * * *"), _cron("0 2 * * *")]
    deployment, _ = store.deployments.upsert(_deployment(flow, schedules=twice), flow, T0)

    assert len({s.id for s in deployment.schedules}) == 2


def test_schedules_with_changed_parameters_get_a_new_id(store: Store) -> None:
    flow, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    first, _ = store.deployments.upsert(
        _deployment(flow, schedules=[_cron("0 2 * * *", day="mon")]), flow, T0
    )
    second, _ = store.deployments.upsert(
        _deployment(flow, schedules=[_cron("0 2 * * *", day="tue")]), flow, T0
    )

    assert first.schedules[0].id != second.schedules[0].id


def test_deployment_get_by_name_finds_it_through_the_flow_name(store: Store) -> None:
    flow, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    deployment, _ = store.deployments.upsert(_deployment(flow), flow, T0)

    assert store.deployments.get_by_name("etl", "nightly") == deployment
    with pytest.raises(NotFoundError):
        store.deployments.get_by_name("etl", "weekly")


def test_deployment_list_all_and_by_flow(store: Store) -> None:
    etl, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    ml, _ = store.flows.create_or_get(FlowCreate(name="ml"), T0)
    for flow, name in [(etl, "b"), (ml, "a"), (etl, "a")]:
        store.deployments.upsert(_deployment(flow, name), flow, T0)

    everything = store.deployments.list(10, None)
    of_etl = store.deployments.list(1, None, flow_id=etl.id)
    of_etl_rest = store.deployments.list(1, of_etl.next_token, flow_id=etl.id)

    assert [(d.flow_name, d.name) for d in everything.items] == [
        ("etl", "a"),
        ("etl", "b"),
        ("ml", "a"),
    ]
    assert [d.name for d in of_etl.items + of_etl_rest.items] == ["a", "b"]


def test_deployment_set_paused_and_resume(store: Store, clock: FakeClock) -> None:
    flow, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    deployment, _ = store.deployments.upsert(_deployment(flow), flow, T0)

    paused = store.deployments.set_paused(deployment.id, True, clock.advance(minutes=1))
    assert paused.paused is True
    assert store.deployments.get(deployment.id).paused is True
    assert store.deployments.set_paused(deployment.id, False, clock.now).paused is False
    with pytest.raises(NotFoundError):
        store.deployments.set_paused(uuid4(), True, clock.now)


def test_deployment_delete_removes_it_and_a_second_delete_is_not_found(store: Store) -> None:
    flow, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    deployment, _ = store.deployments.upsert(_deployment(flow), flow, T0)

    store.deployments.delete(deployment.id)

    with pytest.raises(NotFoundError):
        store.deployments.get(deployment.id)
    with pytest.raises(NotFoundError):
        store.deployments.delete(deployment.id)


def test_deployment_upsert_gives_up_with_conflict_when_it_keeps_losing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    monkeypatch.setattr(store.deployments, "_write", lambda *_: False)

    with pytest.raises(ConflictError) as caught:
        store.deployments.upsert(_deployment(flow), flow, T0)
    assert caught.value.code == "version_conflict"
