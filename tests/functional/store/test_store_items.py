"""Typed items: every entity's class reads back what the store writes, byte for byte, and only that.

The repositories write every entity through the real moto table; the raw items are then read
back through a second, independently bound set of classes (`build_models` on the same table).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import boto3
import pytest
from pynamodb.attributes import DiscriminatorAttribute
from pynamodb.exceptions import AttributeNullError
from pynamodb.transactions import TransactWrite

from stratoflow.orchestration import plan_task_run
from stratoflow.schemas import (
    AgentHeartbeat,
    ApiKeyScope,
    DecisionStatus,
    DeploymentCreate,
    FlowCreate,
    LogCreate,
    OrchestrationResult,
    ResultRef,
    State,
    StateType,
    WorkQueueUpdate,
)
from stratoflow_functions.config import Settings
from stratoflow_functions.store import Store, build_models, create_table, table_definition
from stratoflow_functions.store.items import ENTITY_CLASSES, TableItem
from stratoflow_functions.store.models import Models
from stratoflow_functions.store.towel import SweepMark, towel_repository
from tests.functional.store.store_support import (
    T0,
    flow_run_records,
    make_task_run,
    moved,
    save,
    scheduled_run,
)

Raw = dict[str, dict[str, Any]]

TABLE_ATTRIBUTES = {
    "pk", "sk", "entity", "expires_at", "version", "data", "created",
    "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk",
    "gsi5pk", "gsi5sk",
    "id", "flow_id", "flow_name", "deployment_id", "flow_run_id", "state_type", "state_name",
    "work_queue", "infrastructure", "heartbeat", "infrastructure_id", "transition_id",
    "result", "held_slots",
    "tag", "slot_limit", "leases", "lease_version", "leased", "renew_after",
    "run_id", "lines",
    "tags", "stats_bucket",
    "SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CRASHED", "CANCELLING",
    "CANCELLED", "PAUSED",
}  # fmt: skip
"""The table's vocabulary: every attribute name an item has ever been stored with. Renaming
one orphans what is stored under it; only ever add to this list."""


def _write_flows_and_runs(store: Store) -> None:
    flow, _ = store.flows.create_or_get(FlowCreate(name="etl"), T0)
    spec = {"flow_id": flow.id, "name": "nightly", "entrypoint": "flows/etl.py:etl"}
    deployment, _ = store.deployments.upsert(DeploymentCreate.model_validate(spec), flow, T0)
    run = scheduled_run(T0, flow_id=flow.id, deployment_id=deployment.id, idempotency_key="k1")
    store.flow_runs.create(run)
    running = moved(run, StateType.RUNNING, T0)
    answer = OrchestrationResult(status=DecisionStatus.ACCEPT, state=running.state, version=1)
    save(store.flow_runs, running, expected_version=0, transition_id=uuid4(), result=answer)
    store.flow_runs.heartbeat(run.id, T0, "i-123")
    task_run = make_task_run(run.id, tags=["db"])
    store.task_runs.create(task_run)
    store.concurrency.put("db", 2, T0)
    plan = plan_task_run(
        task_run,
        State(type=StateType.RUNNING, timestamp=T0),
        T0,
        flow_run_state=running.state,
        tag_slots=store.concurrency.slots(["db"], task_run.id, T0),
    )
    assert plan.take  # the slot is taken, so the lease and the registry are written too
    assert store.task_runs.apply(plan, transition_id=uuid4(), result=plan.answer())
    store.logs.write([LogCreate(flow_run_id=run.id, message="hi", timestamp=T0)], T0)
    towel_repository(store).set_sweep_mark(deployment.id, SweepMark(T0, T0))


def _write_the_rest(store: Store) -> None:
    result = ResultRef(uri="s3://results/abc")
    completed = State(type=StateType.COMPLETED, timestamp=T0, result=result, cache_key="c")
    store.cache.put("c", completed)
    store.api_keys.create("ci", ApiKeyScope.REGULAR, "hash-1", "sf_abcd", T0)
    store.work_queues.put("default", WorkQueueUpdate(concurrency_limit=3), T0)
    store.agents.heartbeat(uuid4(), AgentHeartbeat(name="a1"), T0)
    towel_repository(store).set_cursor("scheduler", "token")


def _scan(settings: Settings) -> list[Raw]:
    client = boto3.client("dynamodb", region_name=settings.region)
    return client.scan(TableName=settings.table_name, ConsistentRead=True)["Items"]


def _normal(raw: Raw) -> Raw:
    """Sets come back in any order: compare them sorted."""
    return {
        name: {t: sorted(v) if t == "SS" else v for t, v in value.items()}
        for name, value in raw.items()
    }


def _by_key(items: list[Raw]) -> dict[tuple[str, str], Raw]:
    return {(raw["pk"]["S"], raw["sk"]["S"]): _normal(raw) for raw in items}


def _attr_names(cls: type[TableItem]) -> set[str]:
    return {attribute.attr_name for attribute in cls.get_attributes().values()}


@pytest.fixture
def written(store: Store, settings: Settings) -> list[Raw]:
    """Every entity, written by its repository; the table's raw items."""
    _write_flows_and_runs(store)
    _write_the_rest(store)
    assert store.run_counting.record(flow_run_records(settings)) == []  # history, counters
    return _scan(settings)


@pytest.fixture
def models(written: list[Raw], settings: Settings) -> Models:
    return build_models(settings)


def test_the_store_writes_every_entity_the_models_know(written: list[Raw], models: Models) -> None:
    assert {raw["entity"]["S"] for raw in written} == set(models.entities())
    assert set(models.entities()) == {spec.ENTITY for spec in ENTITY_CLASSES}


def test_every_written_item_reads_back_as_its_own_class_byte_for_byte(
    written: list[Raw], models: Models
) -> None:
    for raw in written:
        cls = models.entities()[raw["entity"]["S"]]
        read = cls.get(raw["pk"]["S"], raw["sk"]["S"], consistent_read=True)

        assert type(read) is cls
        assert _normal(read.to_dynamodb_dict()) == _normal(raw)


def test_a_typed_item_saved_again_is_the_item_the_store_wrote(
    written: list[Raw], models: Models, settings: Settings
) -> None:
    for raw in written:
        cls = models.entities()[raw["entity"]["S"]]
        cls.get(raw["pk"]["S"], raw["sk"]["S"]).save()

    assert _by_key(_scan(settings)) == _by_key(written)


def test_no_entity_writes_an_attribute_its_class_does_not_declare(
    written: list[Raw], models: Models
) -> None:
    for raw in written:
        cls = models.entities()[raw["entity"]["S"]]

        assert set(raw) <= _attr_names(cls), cls.ENTITY


def test_the_entities_declare_exactly_the_tables_attribute_names(models: Models) -> None:
    declared = [_attr_names(cls) for cls in models.entities().values()]

    assert set().union(*declared) == TABLE_ATTRIBUTES
    assert _attr_names(models.root) == {"pk", "sk", "entity", "expires_at"}


def test_each_entity_names_the_indexes_it_occupies_and_declares_their_keys(
    models: Models,
) -> None:
    definition = table_definition("any")
    gsi_keys = {
        gsi["IndexName"]: [key["AttributeName"] for key in gsi["KeySchema"]]
        for gsi in definition["GlobalSecondaryIndexes"]
    }
    for cls in models.entities().values():
        declared_keys = {name for name in _attr_names(cls) if name.startswith("gsi")}

        assert set(cls._indexes) == set(cls.INDEXES), cls.ENTITY
        assert declared_keys == {key for index in cls.INDEXES for key in gsi_keys[index]}


def test_a_class_refuses_an_undeclared_attribute_and_a_missing_required_one(
    models: Models,
) -> None:
    with pytest.raises(ValueError, match="state_type"):
        models.flow("FLOW#x", "FLOW", id="x", data="{}", state_type="RUNNING")
    with pytest.raises(AttributeNullError, match="gsi1pk"):
        models.flow("FLOW#x", "FLOW", id="x", data="{}", gsi1sk="x").save()


def _plant(settings: Settings, entity: str, index: str) -> None:
    client = boto3.client("dynamodb", region_name=settings.region)
    item = {
        "pk": {"S": f"PLANTED#{entity}#{index}"},
        "sk": {"S": "PLANTED"},
        "entity": {"S": entity},
        f"{index}pk": {"S": "SHARED"},
        f"{index}sk": {"S": entity},
    }
    client.put_item(TableName=settings.table_name, Item=item)


@pytest.mark.parametrize("index", ["gsi1", "gsi2"])
def test_a_query_on_one_entitys_index_returns_only_that_entitys_items(
    store: Store, settings: Settings, index: str
) -> None:
    models = build_models(settings)
    for entity in models.entities():
        _plant(settings, entity, index)

    users = [cls for cls in models.entities().values() if index in cls.INDEXES]
    for cls in users:
        found = list(cls.query("SHARED", index_name=index))

        assert [(type(item), item.sk) for item in found] == [(cls, "PLANTED")]
        assert found[0].pk == f"PLANTED#{cls.ENTITY}#{index}"
    assert len(users) >= 2  # the index really is shared by several entities


def test_a_list_skips_other_entities_planted_in_its_partition(
    store: Store, settings: Settings
) -> None:
    store.flows.create_or_get(FlowCreate(name="etl"), T0)
    client = boto3.client("dynamodb", region_name=settings.region)
    for entity in ("api_key", "work_queue", "concurrency_limit"):
        item = {"pk": {"S": f"X#{entity}"}, "sk": {"S": "X"}, "entity": {"S": entity}}
        item |= {"gsi1pk": {"S": "FLOWS"}, "gsi1sk": {"S": "0"}, "data": {"S": "{}"}}
        client.put_item(TableName=settings.table_name, Item=item)

    assert [flow.name for flow in store.flows.list(10, None).items] == ["etl"]


def test_a_get_of_another_entitys_key_is_refused(store: Store, settings: Settings) -> None:
    store.work_queues.put("default", WorkQueueUpdate(), T0)
    models = build_models(settings)

    with pytest.raises(ValueError, match="WorkQueueItem"):
        models.flow.get("WORK_QUEUE#default", "WORK_QUEUE")


def test_bound_classes_collect_attributes_from_every_base(aws: None) -> None:
    models = build_models(Settings(table_name="bases"))
    attributes = models.flow_run.get_attributes()

    assert {"pk", "sk", "expires_at"} <= set(attributes)  # TableItem
    assert "version" in attributes  # VersionedItem
    assert {"state_type", "transition_id", "data"} <= set(attributes)  # RunItem
    assert isinstance(attributes["entity"], DiscriminatorAttribute)  # the store's root
    assert models.flow_run._discriminator == "entity"
    assert models.flow_run.entity.serialize(models.flow_run) == "flow_run"  # as updates set it


def test_models_of_two_tables_share_no_class_registry_or_connection(aws: None) -> None:
    one, two = Settings(table_name="one"), Settings(table_name="two")
    create_table(one)
    create_table(two)
    first, second = build_models(one), build_models(two)
    first.flow("FLOW#a", "FLOW", id="a", data="{}", gsi1pk="FLOWS", gsi1sk="a").save()

    assert [item.pk for item in first.flow.query("FLOWS", index_name="gsi1")] == ["FLOW#a"]
    assert list(second.flow.query("FLOWS", index_name="gsi1")) == []
    assert first.flow is not second.flow
    assert first.flow.entity is not second.flow.entity  # each store its own registry
    assert first.connection() is not second.connection()


def test_every_class_of_one_store_uses_its_one_connection(aws: None) -> None:
    models = build_models(Settings(table_name="shared"))
    classes = list(models.entities().values())

    assert {id(cls._get_connection()) for cls in classes} == {id(models.root._get_connection())}
    assert all(cls.Meta.table_name == "shared" for cls in classes)


def test_one_transaction_writes_items_of_several_entity_classes(
    store: Store, settings: Settings
) -> None:
    models = build_models(settings)
    flow = models.flow("FLOW#t", "FLOW", id="t", data="{}", gsi1pk="FLOWS", gsi1sk="t")
    agent = models.agent("AGENT#t", "AGENT", id="t", work_queue="default", data="{}")
    cursor = models.towel_cursor("TOWEL#t", "CURSOR", data=None)
    with TransactWrite(connection=models.connection()) as txn:
        for item in (flow, agent, cursor):
            txn.save(item, condition=type(item).pk.does_not_exist())

    assert {raw["entity"]["S"] for raw in _scan(settings)} == {"flow", "agent", "towel_cursor"}
