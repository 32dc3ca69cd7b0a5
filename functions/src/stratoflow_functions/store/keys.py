"""Key formats and time encodings of the single-table design (see docs/data-model.md).

Every partition/sort key string is built here, so the layout can be read in one place. Times in
sort keys are fixed-width UTC ISO strings, so lexical order is time order.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

FLOW_NAMESPACE = UUID("6f1d3a5e-2b7c-4e0a-9a57-5b0c1f3d9e21")
"""Flow ids are `uuid5(FLOW_NAMESPACE, name)`: registering a name twice yields one flow."""

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
AFTER_ANY_SUFFIX = "~"
"""Sorts after `#`: `time_key(t) + "~"` bounds every `"{time_key(t)}#{id}"` from above."""


def time_key(value: datetime) -> str:
    """A fixed-width, lexically ordered UTC string for `value`.

    Built field by field: `strftime("%Y")` does not pad years before 1000 on glibc, which made
    `"390-…"` sort after `"2026-…"` and broke `parse_time`.
    """
    t = value.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T"
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}Z"
    )


def parse_time(value: str) -> datetime:
    """Inverse of `time_key`: an aware UTC datetime."""
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


def epoch(value: datetime) -> int:
    """Epoch seconds, the unit of the TTL attribute `expires_at`."""
    return int(value.timestamp())


def expiry(start: datetime, days: int) -> int:
    """The TTL value `days` after `start`."""
    return epoch(start + timedelta(days=days))


def timed(value: datetime, item_id: UUID | str) -> str:
    """A sort key ordering by time, unique by id."""
    return f"{time_key(value)}#{item_id}"


def flow_id_for(name: str) -> UUID:
    """The id of the flow called `name`."""
    return uuid5(FLOW_NAMESPACE, name)


def deployment_id_for(flow_id: UUID, name: str) -> UUID:
    """The id of deployment `name` of flow `flow_id`."""
    return uuid5(flow_id, name)


def flow_pk(flow_id: UUID) -> str:
    """Partition key of a flow."""
    return f"FLOW#{flow_id}"


def deployment_pk(deployment_id: UUID) -> str:
    """Partition key of a deployment."""
    return f"DEPLOYMENT#{deployment_id}"


def flow_run_pk(run_id: UUID) -> str:
    """Partition key of a flow run."""
    return f"FLOW_RUN#{run_id}"


def task_run_pk(task_run_id: UUID) -> str:
    """Partition key of a task run."""
    return f"TASK_RUN#{task_run_id}"


def idempotency_pk(flow_id: UUID, key: str) -> str:
    """Partition key of a flow-run idempotency key (scoped to the flow, as in Prefect)."""
    return f"IDEMPOTENCY#{flow_id}#{key}"


def logs_pk(flow_run_id: UUID) -> str:
    """Partition key of a flow run's log chunks."""
    return f"LOGS#{flow_run_id}"


def cache_pk(cache_key: str) -> str:
    """Partition key of a task-run cache entry."""
    return f"CACHE#{cache_key}"


def concurrency_pk(tag: str) -> str:
    """Partition key of a tag's concurrency limit and slots."""
    return f"CONCURRENCY#{tag}"


def api_key_pk(key_hash: str) -> str:
    """Partition key of an API key: its hash, so authentication is one consistent read."""
    return f"API_KEY#{key_hash}"


def work_queue_pk(name: str) -> str:
    """Partition key of a work queue."""
    return f"WORK_QUEUE#{name}"


def agent_pk(agent_id: UUID) -> str:
    """Partition key of an agent."""
    return f"AGENT#{agent_id}"


def shard_of(run_id: UUID, shards: int) -> int:
    """Which of `shards` index shards the run `run_id` is written to.

    A hash of the id's bytes (not Python's `hash`, which differs per process), so every writer
    puts the same run in the same shard for the same shard count, and runs spread evenly.
    """
    digest = hashlib.blake2b(run_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def sharded(partition: str, shard: int) -> str:
    """Shard `shard` of a run-index partition.

    Shard 0 is the partition's unsharded name and shard s > 0 appends `#{s}`: so a table
    written before sharding (or with one shard) holds exactly shard 0 of every index, and is
    read without a migration. The names never collide: the variable part of each run-index
    partition (a uuid, a state type, a queue name) cannot contain `#`.
    """
    return partition if shard == 0 else f"{partition}#{shard}"


SHARD_LAYOUT_PK = "INDEX_LAYOUT"
"""The item recording the largest shard count any writer of this table has used."""


def queue_partition(work_queue: str) -> str:
    """gsi1 partition of a work queue's SCHEDULED runs (before `sharded`)."""
    return f"QUEUE#{work_queue}"


def heartbeat_partition(state_type: str) -> str:
    """gsi1 partition of live runs of a state type, by heartbeat age (before `sharded`)."""
    return f"HEARTBEAT#{state_type}"


def deployment_runs_partition(deployment_id: UUID) -> str:
    """gsi2 partition of a deployment's runs (before `sharded`)."""
    return f"DEPLOYMENT#{deployment_id}#RUNS"


def flow_runs_partition(flow_id: UUID) -> str:
    """gsi3 partition of a flow's runs (before `sharded`)."""
    return f"FLOW#{flow_id}#RUNS"


def state_runs_partition(state_type: str) -> str:
    """gsi4 partition of runs in a state type (before `sharded`)."""
    return f"RUNS#{state_type}"


ALL_RUNS_PARTITION = "RUNS"
"""gsi5 partition of all flow runs (before `sharded`)."""
FLOWS_PARTITION = "FLOWS"
DEPLOYMENTS_PARTITION = "DEPLOYMENTS"
CONCURRENCY_PARTITION = "CONCURRENCY_LIMITS"
API_KEYS_PARTITION = "API_KEYS"
WORK_QUEUES_PARTITION = "WORK_QUEUES"


def flow_deployments_partition(flow_id: UUID) -> str:
    """gsi2 partition of a flow's deployments."""
    return f"FLOW#{flow_id}#DEPLOYMENTS"


def task_runs_partition(flow_run_id: UUID) -> str:
    """gsi1 partition of a flow run's task runs."""
    return f"FLOW_RUN#{flow_run_id}#TASK_RUNS"


def api_key_id_partition(key_id: UUID) -> str:
    """gsi2 partition that finds an API key by id (for revoke)."""
    return f"API_KEY_ID#{key_id}"


AGENTS_PARTITION = "AGENTS"
"""gsi1 partition of every agent, by last heartbeat."""
STATE_SK_PREFIX = "STATE#"
"""Sort-key prefix of a flow run's state-history items (in the run's own partition)."""


def state_sk(version: int) -> str:
    """Sort key of the state a flow run entered at `version` (fixed width: lexical order)."""
    return f"{STATE_SK_PREFIX}{version:010d}"


STATS_BUCKET_SECONDS = 3600
"""The width of a run-count bucket: one hour of expected start time."""


def stats_bucket(value: datetime) -> str:
    """The hour bucket (a fixed-width time key) that `value` falls in."""
    hour = value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return time_key(hour)


def stats_partition(scope: str) -> str:
    """Table partition of a scope's run counters (before `sharded`).

    `scope` is `RUNS` (every run), `FLOW#{id}` or `DEPLOYMENT#{id}`.
    """
    return f"RUN_STATS#{scope}"
