"""The store's bound item classes: one per entity (store/items.py), plus the generic one.

pynamodb binds `Meta.table_name` when a class is defined, so nothing here is bound at import:
`build_models(settings)` makes, per store, a root class holding the table's `Meta` and its own
`entity` discriminator, one subclass of each entity class of `items.py` under that root, and
the generic `StoreItem` subclass. All of them share the root's one connection, so a
transaction may mix them. `StoreItem`, with every attribute any entity uses, serves the
repositories not yet moved to their entity's class (flow runs, task runs, concurrency limits);
it reads and writes the same items.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from pynamodb.attributes import (
    DiscriminatorAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.connection import Connection
from pynamodb.models import Model

from stratoflow_functions.config import Settings
from stratoflow_functions.store.items import (
    ENTITY_CLASSES,
    GSI_COUNT,
    AgentItem,
    ApiKeyItem,
    CacheEntryItem,
    ConcurrencyLimitItem,
    DeploymentItem,
    FlowItem,
    FlowRunItem,
    Gsi1,
    Gsi2,
    Gsi3,
    Gsi4,
    Gsi5,
    IdempotencyKeyItem,
    IndexLayoutItem,
    LeaseRegistryItem,
    LogChunkItem,
    SweepMarkItem,
    TableItem,
    TaskRunItem,
    TowelCursorItem,
    WorkQueueItem,
)

__all__ = ["GSI_COUNT", "Models", "StoreItem", "build_models"]

E = TypeVar("E", bound=TableItem)


class StoreItem(Model):
    """Any item of the table, every attribute nullable: the repositories of flow runs, task runs
    and concurrency limits still use it (their entities' classes are in items.py)."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    version = NumberAttribute(null=True)
    data = UnicodeAttribute(null=True)
    created = UnicodeAttribute(null=True)
    # Plain run attributes: the stream publisher reads them, conditions and filters use them.
    id = UnicodeAttribute(null=True)
    flow_id = UnicodeAttribute(null=True)
    flow_name = UnicodeAttribute(null=True)
    deployment_id = UnicodeAttribute(null=True)
    flow_run_id = UnicodeAttribute(null=True)
    state_type = UnicodeAttribute(null=True)
    state_name = UnicodeAttribute(null=True)
    work_queue = UnicodeAttribute(null=True)
    infrastructure = UnicodeAttribute(null=True)
    heartbeat = UnicodeAttribute(null=True)
    infrastructure_id = UnicodeAttribute(null=True)
    transition_id = UnicodeAttribute(null=True)
    result = UnicodeAttribute(null=True)
    held_slots = UnicodeSetAttribute(null=True)
    # Concurrency limits: each slot is a lease, holder id -> expiry (epoch seconds).
    tag = UnicodeAttribute(null=True)
    slot_limit = NumberAttribute(null=True)
    leases: MapAttribute[str, Any] = MapAttribute(null=True)  # type: ignore[no-untyped-call]
    lease_version = NumberAttribute(null=True)
    # A flow run's lease registry: "{holder id}/{tag}" of every lease it and its task runs hold.
    leased = UnicodeSetAttribute(null=True)
    renew_after = NumberAttribute(null=True)
    # Idempotency keys, log chunks.
    run_id = UnicodeAttribute(null=True)
    lines = UnicodeAttribute(null=True)

    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()
    gsi4 = Gsi4()
    gsi5 = Gsi5()


@dataclass(frozen=True)
class Models:
    """The classes bound to one table: one per entity (named as its `entity` value).

    Attributes:
        item: The generic class, for the repositories not yet on their entity's class.
        root: The root of every class here; it owns the table's one connection.
    """

    settings: Settings
    root: type[TableItem]
    item: type[StoreItem]
    flow: type[FlowItem]
    deployment: type[DeploymentItem]
    flow_run: type[FlowRunItem]
    idempotency_key: type[IdempotencyKeyItem]
    task_run: type[TaskRunItem]
    log_chunk: type[LogChunkItem]
    cache_entry: type[CacheEntryItem]
    concurrency_limit: type[ConcurrencyLimitItem]
    lease_registry: type[LeaseRegistryItem]
    index_layout: type[IndexLayoutItem]
    api_key: type[ApiKeyItem]
    work_queue: type[WorkQueueItem]
    agent: type[AgentItem]
    towel_cursor: type[TowelCursorItem]
    sweep_mark: type[SweepMarkItem]

    def connection(self) -> Connection:
        """The pynamodb connection of the bound table (for `TransactWrite`)."""
        conn: Connection = self.root._get_connection().connection
        return conn

    def entities(self) -> dict[str, type[TableItem]]:
        """Every entity's bound class, by `entity` value."""
        return {spec.ENTITY: getattr(self, spec.ENTITY) for spec in ENTITY_CLASSES}


def _root(settings: Settings) -> type[TableItem]:
    class BoundItem(TableItem):
        class Meta:
            table_name = settings.table_name
            region = settings.region
            host = settings.aws_endpoint_url

        entity = DiscriminatorAttribute(attr_name="entity")

    return BoundItem


def _bind(spec: type[E], root: type[TableItem]) -> type[E]:
    def body(namespace: dict[str, Any]) -> None:
        namespace["__module__"] = spec.__module__

    bound = types.new_class(spec.__name__, (spec, root), {"discriminator": spec.ENTITY}, body)
    return cast("type[E]", bound)


def build_models(settings: Settings) -> Models:
    """Bind every item class to the table, region and endpoint of `settings`.

    Args:
        settings: Where the table lives.

    Returns:
        Fresh classes with their own connection, so two stores never share a table.
    """
    root = _root(settings)
    models = Models(
        settings=settings,
        root=root,
        item=type("Item", (StoreItem, root), {"__module__": __name__}),
        flow=_bind(FlowItem, root),
        deployment=_bind(DeploymentItem, root),
        flow_run=_bind(FlowRunItem, root),
        idempotency_key=_bind(IdempotencyKeyItem, root),
        task_run=_bind(TaskRunItem, root),
        log_chunk=_bind(LogChunkItem, root),
        cache_entry=_bind(CacheEntryItem, root),
        concurrency_limit=_bind(ConcurrencyLimitItem, root),
        lease_registry=_bind(LeaseRegistryItem, root),
        index_layout=_bind(IndexLayoutItem, root),
        api_key=_bind(ApiKeyItem, root),
        work_queue=_bind(WorkQueueItem, root),
        agent=_bind(AgentItem, root),
        towel_cursor=_bind(TowelCursorItem, root),
        sweep_mark=_bind(SweepMarkItem, root),
    )
    # Made once every entity is registered, so its table description knows all their indexes;
    # the subclasses inherit it rather than each opening a client of its own.
    root._get_connection()
    return models
