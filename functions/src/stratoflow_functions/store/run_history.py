"""What the table's stream consumer derives from a flow-run write: the run's state-history item
and the moves of the run counters (see docs/data-model.md, "State history" and "Run
counters"). Pure: stream records in, history entries and counter deltas out.

A record whose new image has another `version` than its old image (or an INSERT) is one state
the run was stored in: one history entry `FLOW_RUN#{id}` / `STATE#{version}`, and the deltas
old (state type, hour bucket) -1, new +1 in every scope the run is counted in. Writes that keep
the version (heartbeats) derive nothing. An old image without `stats_bucket` was stored before
the counters existed and was never counted: nothing is taken off for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from stratoflow.schemas import FlowRun, StateType
from stratoflow_functions.store.keys import expiry, shard_of, sharded, stats_bucket, stats_partition
from stratoflow_functions.store.run_items import start_mark

ALL_RUNS_SCOPE = "RUNS"
FLOW_RUN_ENTITY = "flow_run"
COUNTED_MARK = "stats_bucket"
"""The run attribute whose presence says "this stored version is in the counters"."""

Record = Mapping[str, Any]
"""One DynamoDB stream record (DynamoDB-JSON images)."""

CounterKey = tuple[str, str, StateType]
"""(counter partition with its shard, hour bucket, state type)."""


@dataclass(frozen=True)
class HistoryEntry:
    """The history item of the state a run entered at `version`."""

    run_id: UUID
    version: int
    state: str
    """The `State`, as JSON."""
    expires_at: int


@dataclass(frozen=True)
class RunChange:
    """What one stream record adds: a history entry and the counter deltas (non-zero only)."""

    sequence: str
    history: HistoryEntry
    deltas: dict[CounterKey, int] = field(default_factory=dict)


def scopes(run: FlowRun) -> list[str]:
    """The counter scopes a run is counted in: every run, its flow, its deployment."""
    found = [ALL_RUNS_SCOPE, f"FLOW#{run.flow_id}"]
    if run.deployment_id is not None:
        found.append(f"DEPLOYMENT#{run.deployment_id}")
    return found


def _run(image: Mapping[str, Any] | None) -> FlowRun | None:
    if not image or image.get("entity", {}).get("S") != FLOW_RUN_ENTITY:
        return None
    data = image.get("data", {}).get("S")
    try:
        return None if data is None else FlowRun.model_validate_json(data)
    except ValidationError:
        return None


def _deltas(before: FlowRun | None, after: FlowRun, shards: int) -> dict[CounterKey, int]:
    """+1 for `after`'s (bucket, state), -1 for `before`'s, in each scope; zeros dropped.

    The counters are in the run's shard; a read sums every shard, so the sum stays exact
    whatever shard count the consumer runs with.
    """
    moves: Counter[tuple[str, StateType]] = Counter()
    moves[(stats_bucket(start_mark(after)), after.state.type)] += 1
    if before is not None:
        moves[(stats_bucket(start_mark(before)), before.state.type)] -= 1
    shard = shard_of(after.id, shards)
    deltas: dict[CounterKey, int] = {}
    for scope in scopes(after):
        partition = sharded(stats_partition(scope), shard)
        for (bucket, state), delta in moves.items():
            if delta:
                deltas[(partition, bucket, state)] = delta
    return deltas


def run_change(record: Record, shards: int, retention_days: int) -> RunChange | None:
    """The history entry and counter deltas of one stream record; None when it adds none
    (another entity, a removal, a write that kept the run's version).
    """
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    data = record.get("dynamodb", {})
    new_image, old_image = data.get("NewImage"), data.get("OldImage")
    after, before = _run(new_image), _run(old_image)
    if after is None or (before is not None and before.version == after.version):
        return None
    counted = before if old_image and COUNTED_MARK in old_image else None
    start = max(after.state.timestamp, start_mark(after))
    entry = HistoryEntry(
        run_id=after.id,
        version=after.version,
        state=after.state.model_dump_json(),
        expires_at=expiry(start, retention_days),
    )
    sequence = str(data.get("SequenceNumber", ""))
    return RunChange(sequence, entry, _deltas(counted, after, shards))


def run_changes(records: Iterable[Record], shards: int, retention_days: int) -> list[RunChange]:
    """`run_change` of every record that has one, in stream order."""
    changes = (run_change(record, shards, retention_days) for record in records)
    return [change for change in changes if change is not None]
