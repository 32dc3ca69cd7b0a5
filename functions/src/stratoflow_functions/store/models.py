"""The store's bound item classes: one per entity of store/items.py.

pynamodb binds `Meta.table_name` when a class is defined, so nothing here is bound at import:
`build_models(settings)` makes, per store, a root class holding the table's `Meta` and its own
`entity` discriminator, and one subclass of each entity class of `items.py` under that root.
All of them share the root's one connection, so a transaction may mix them (a plan writes a
run, limits and a lease registry in one). Every repository reads and writes through them.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from pynamodb.attributes import DiscriminatorAttribute
from pynamodb.connection import Connection

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
    FlowRunStateItem,
    IdempotencyKeyItem,
    IndexLayoutItem,
    LeaseRegistryItem,
    LogChunkItem,
    RunStatsItem,
    SweepMarkItem,
    TableItem,
    TaskRunItem,
    TowelCursorItem,
    WorkQueueItem,
)

__all__ = ["GSI_COUNT", "Models", "build_models"]

E = TypeVar("E", bound=TableItem)


@dataclass(frozen=True)
class Models:
    """The classes bound to one table: one per entity (named as its `entity` value).

    Attributes:
        root: The root of every class here; it owns the table's one connection.
    """

    settings: Settings
    root: type[TableItem]
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
    flow_run_state: type[FlowRunStateItem]
    run_stats: type[RunStatsItem]
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
        flow_run_state=_bind(FlowRunStateItem, root),
        run_stats=_bind(RunStatsItem, root),
        towel_cursor=_bind(TowelCursorItem, root),
        sweep_mark=_bind(SweepMarkItem, root),
    )
    # Made once every entity is registered, so its table description knows all their indexes;
    # the subclasses inherit it rather than each opening a client of its own.
    root._get_connection()
    return models
