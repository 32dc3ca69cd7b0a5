"""Typed items: one pynamodb model per entity of the single table, told apart by `entity`.

Each entity class declares only the attributes its items carry, and names the GSIs it occupies
in `INDEXES` (index → partition / sort key, and what the index is for). The classes here are
unbound specs: pynamodb binds `Meta.table_name` when a class is defined, so
`models.build_models(settings)` derives, per store, a root holding the table's `Meta` and a
fresh `DiscriminatorAttribute` on `entity`, and one subclass of each spec and that root
registered under the spec's `ENTITY`. Every repository reads and writes through those bound
classes. A stored item stays byte for byte what the store wrote before these classes existed:
same attribute names, same `entity` strings, same keys; the names these classes declare, all
together, are pinned in tests/functional/store/test_store_items.py.

What pynamodb does with it: attributes are collected from the whole MRO (bases and mixins
alike); a query or scan on an entity class adds `entity IN (that class)` to the filter, and a
get or batch get of a key holding another entity raises `ValueError` (an update too, once
applied: its keys must be the entity's own); an update that may create its item sets the
discriminator itself (`cls.entity.set(cls)`); a class refuses, on
construction, any attribute it does not declare, and on save any required one left None.
Required is checked on writes only: a stored item (an older version's, or a damaged one) may
still lack one, so the parsers of the repositories keep their fallbacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pynamodb.attributes import (
    DiscriminatorAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

GSI_COUNT = 5


class Gsi1(GlobalSecondaryIndex["TableItem"]):  # type: ignore[no-untyped-call]
    """Work-queue index (SCHEDULED runs) and heartbeat index (live runs); lists of entities."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex["TableItem"]):  # type: ignore[no-untyped-call]
    """Runs of a deployment; deployments of a flow; API keys by id."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(GlobalSecondaryIndex["TableItem"]):  # type: ignore[no-untyped-call]
    """Runs of a flow."""

    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Gsi4(GlobalSecondaryIndex["TableItem"]):  # type: ignore[no-untyped-call]
    """Runs by state type."""

    class Meta:
        index_name = "gsi4"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class Gsi5(GlobalSecondaryIndex["TableItem"]):  # type: ignore[no-untyped-call]
    """All runs."""

    class Meta:
        index_name = "gsi5"
        projection = AllProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    gsi5sk = UnicodeAttribute(range_key=True)


class TableItem(Model):
    """What every item has: the table keys, and the TTL that every read filters on.

    Attributes:
        ENTITY: The `entity` value of the class's items (a subclass sets it).
        INDEXES: The GSIs the class's items occupy: index → "partition / sort: what for".
    """

    ENTITY: ClassVar[str]
    INDEXES: ClassVar[Mapping[str, str]] = {}
    # The discriminator; `build_models` gives each store's root a fresh one, because the
    # attribute holds the value → class registry and two stores must not share it.
    entity: ClassVar[DiscriminatorAttribute]

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute(null=True)


class VersionedItem(TableItem):
    """An item replaced whole under a condition on the `version` it was read at."""

    version = NumberAttribute()


class FlowItem(TableItem):
    """A flow: `FLOW#{id}` / `FLOW`; `data` is the `Flow`."""

    ENTITY = "flow"
    INDEXES = {"gsi1": "FLOWS / {name}: every flow, by name"}

    id = UnicodeAttribute()
    data = UnicodeAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi1 = Gsi1()


class DeploymentItem(VersionedItem):
    """A deployment: `DEPLOYMENT#{id}` / `DEPLOYMENT`; `data` is the `Deployment`."""

    ENTITY = "deployment"
    INDEXES = {
        "gsi1": "DEPLOYMENTS / {flow_name}#{name}: every deployment",
        "gsi2": "FLOW#{flow_id}#DEPLOYMENTS / {name}: a flow's deployments",
    }

    id = UnicodeAttribute()
    flow_id = UnicodeAttribute()
    flow_name = UnicodeAttribute()
    data = UnicodeAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    gsi1 = Gsi1()
    gsi2 = Gsi2()


class RunItem(VersionedItem):
    """What flow and task runs share: the run as JSON, its state, and its last transition."""

    id = UnicodeAttribute()
    state_type = UnicodeAttribute()
    state_name = UnicodeAttribute()
    transition_id = UnicodeAttribute(null=True)
    result = UnicodeAttribute(null=True)
    created = UnicodeAttribute()
    data = UnicodeAttribute()


class FlowRunItem(RunItem):
    """A flow run: `FLOW_RUN#{id}` / `FLOW_RUN`; TTL once terminal.

    The plain attributes are what the stream publisher, conditions and filters read; the
    index keys are recomputed from the run's state on every write (sparse gsi1 and gsi2).
    """

    ENTITY = "flow_run"
    INDEXES = {
        "gsi1": "QUEUE#{work_queue} / {due}#{id} while SCHEDULED; HEARTBEAT#{state_type} / "
        "{heartbeat}#{id} while PENDING, RUNNING or CANCELLING",
        "gsi2": "DEPLOYMENT#{deployment_id}#RUNS / {created}#{id}: a deployment's runs",
        "gsi3": "FLOW#{flow_id}#RUNS / {created}#{id}: a flow's runs",
        "gsi4": "RUNS#{state_type} / {created}#{id}: runs in a state type",
        "gsi5": "RUNS / {expected start, else created}#{id}: every run",
    }

    flow_id = UnicodeAttribute()
    flow_name = UnicodeAttribute()
    deployment_id = UnicodeAttribute(null=True)
    work_queue = UnicodeAttribute(null=True)
    infrastructure = UnicodeAttribute(null=True)
    heartbeat = UnicodeAttribute(null=True)
    infrastructure_id = UnicodeAttribute(null=True)
    tags = UnicodeSetAttribute(null=True)
    stats_bucket = UnicodeAttribute(null=True)
    """The hour bucket of the run's expected start; its presence marks a stored version the
    stream consumer counts (`run_history`): absent on runs stored before the counters."""
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute()
    gsi3sk = UnicodeAttribute()
    gsi4pk = UnicodeAttribute()
    gsi4sk = UnicodeAttribute()
    gsi5pk = UnicodeAttribute()
    gsi5sk = UnicodeAttribute()
    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()
    gsi4 = Gsi4()
    gsi5 = Gsi5()


class IdempotencyKeyItem(TableItem):
    """A flow-run idempotency key: `IDEMPOTENCY#{flow_id}#{key}` / `IDEMPOTENCY` → `run_id`."""

    ENTITY = "idempotency_key"

    run_id = UnicodeAttribute()
    expires_at = NumberAttribute()


class TaskRunItem(RunItem):
    """A task run: `TASK_RUN#{id}` / `TASK_RUN`; TTL once terminal."""

    ENTITY = "task_run"
    INDEXES = {"gsi1": "FLOW_RUN#{flow_run_id}#TASK_RUNS / {created}#{id}: a flow run's tasks"}

    flow_run_id = UnicodeAttribute()
    held_slots = UnicodeSetAttribute(null=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi1 = Gsi1()


class LogChunkItem(TableItem):
    """Log lines of one run: `LOGS#{flow_run_id}` / `{first line time}#{write}#{chunk no}`."""

    ENTITY = "log_chunk"

    flow_run_id = UnicodeAttribute()
    lines = UnicodeAttribute()
    expires_at = NumberAttribute()


class CacheEntryItem(TableItem):
    """A task-run cache entry: `CACHE#{cache_key}` / `CACHE`; `data` is the COMPLETED state."""

    ENTITY = "cache_entry"

    data = UnicodeAttribute()


class ConcurrencyLimitItem(TableItem):
    """A tag's concurrency limit and its slot leases: `CONCURRENCY#{tag}` / `CONCURRENCY`.

    `leases` maps each holder's id to its lease expiry (epoch seconds); `lease_version` is
    bumped by every take, which is conditional on the version read (`store/leases.py`).
    """

    ENTITY = "concurrency_limit"
    INDEXES = {"gsi1": "CONCURRENCY_LIMITS / {tag}: every limit, by tag"}

    tag = UnicodeAttribute()
    slot_limit = NumberAttribute()
    leases: MapAttribute[str, Any] = MapAttribute(null=True)  # type: ignore[no-untyped-call]
    lease_version = NumberAttribute(null=True)
    created = UnicodeAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi1 = Gsi1()


class LeaseRegistryItem(TableItem):
    """A flow run's lease registry: `FLOW_RUN#{id}` / `LEASES`, in no index.

    `leased` lists `{holder id}/{tag}` for every slot lease the flow run and its task runs
    hold; the run's heartbeat renews them once `renew_after` (epoch seconds) has passed.
    """

    ENTITY = "lease_registry"

    leased = UnicodeSetAttribute(null=True)
    renew_after = NumberAttribute(null=True)


class IndexLayoutItem(TableItem):
    """The table's index layout: `INDEX_LAYOUT` / `INDEX_LAYOUT`, in no index.

    `version` is the most index shards any writer of the table has used; it only grows, and
    reads cover that many shards (`store/shards.py`).
    """

    ENTITY = "index_layout"

    version = NumberAttribute()


class ApiKeyItem(TableItem):
    """An API key, keyed by its hash: `API_KEY#{hash}` / `API_KEY`; `data` is the `ApiKey`."""

    ENTITY = "api_key"
    INDEXES = {
        "gsi1": "API_KEYS / {created}#{id}: every key, in creation order",
        "gsi2": "API_KEY_ID#{id} / API_KEY: a key by id (to revoke it)",
    }

    id = UnicodeAttribute()
    data = UnicodeAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    gsi1 = Gsi1()
    gsi2 = Gsi2()


class WorkQueueItem(TableItem):
    """A work queue: `WORK_QUEUE#{name}` / `WORK_QUEUE`; `id` is the name, `data` the settings."""

    ENTITY = "work_queue"
    INDEXES = {"gsi1": "WORK_QUEUES / {name}: every queue, by name"}

    id = UnicodeAttribute()
    created = UnicodeAttribute()
    data = UnicodeAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi1 = Gsi1()


class AgentItem(TableItem):
    """An agent as last seen: `AGENT#{id}` / `AGENT`; `data` is the `Agent`."""

    ENTITY = "agent"
    INDEXES = {"gsi1": "AGENTS / {last heartbeat}#{id}: every agent, by last heartbeat"}

    id = UnicodeAttribute()
    work_queue = UnicodeAttribute()
    data = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()


class FlowRunStateItem(TableItem):
    """One state of a flow run's history: `FLOW_RUN#{id}` / `STATE#{version}`; `data` is the
    `State`. Written by the stream consumer, with the counter moves (`run_counting`)."""

    ENTITY = "flow_run_state"

    data = UnicodeAttribute()


class RunStatsItem(TableItem):
    """Run counters of one scope, shard and hour: `RUN_STATS#{scope}[#{s}]` / `{hour}`.

    One number per state type (attribute names are the state types), moved by `ADD` by the
    stream consumer, in the transaction of the history items of the records it sums.
    """

    ENTITY = "run_stats"

    scheduled = NumberAttribute(null=True, attr_name="SCHEDULED")
    pending = NumberAttribute(null=True, attr_name="PENDING")
    running = NumberAttribute(null=True, attr_name="RUNNING")
    completed = NumberAttribute(null=True, attr_name="COMPLETED")
    failed = NumberAttribute(null=True, attr_name="FAILED")
    crashed = NumberAttribute(null=True, attr_name="CRASHED")
    cancelling = NumberAttribute(null=True, attr_name="CANCELLING")
    cancelled = NumberAttribute(null=True, attr_name="CANCELLED")
    paused = NumberAttribute(null=True, attr_name="PAUSED")


class TowelCursorItem(TableItem):
    """Where a Towel service stopped walking: `TOWEL#{service}` / `CURSOR` (None: the start)."""

    ENTITY = "towel_cursor"

    data = UnicodeAttribute(null=True)


class SweepMarkItem(TableItem):
    """What the scheduler last swept a deployment for: `SCHEDULER#{deployment_id}` / `SWEEP`."""

    ENTITY = "sweep_mark"

    data = UnicodeAttribute()


ENTITY_CLASSES: tuple[type[TableItem], ...] = (
    FlowItem,
    DeploymentItem,
    FlowRunItem,
    IdempotencyKeyItem,
    TaskRunItem,
    LogChunkItem,
    CacheEntryItem,
    ConcurrencyLimitItem,
    LeaseRegistryItem,
    IndexLayoutItem,
    ApiKeyItem,
    WorkQueueItem,
    AgentItem,
    FlowRunStateItem,
    RunStatsItem,
    TowelCursorItem,
    SweepMarkItem,
)
"""Every entity of the table; `Models` exposes each one's bound class as `models.{ENTITY}`."""
