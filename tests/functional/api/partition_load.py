"""The table's load model: the real API handler over moto drives a scaled-down sample of a day,
every write it makes is counted per partition key (the table's and each GSI's), and the counts
are scaled to a target day and set against DynamoDB's per-partition limit.

moto does not report GSI writes, so they are derived from the items themselves: botocore's
`before-call` / `after-call` events on the client pynamodb uses read each touched item before
and after the write (through a second client, which is not counted), and DynamoDB's rules turn
the two images into writes: the table partition pays for the larger image in 1 KB units (twice
in a transaction, and also when a condition fails); each GSI whose key pair appears pays one
write, one whose key pair changes pays a delete and a put, one whose attributes changed pays an
update (projection ALL: any attribute counts), an index entry being the item plus 100 bytes.

`python -m tests.functional.api.partition_load` prints the figures docs/data-model.md quotes.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

PARTITION_WCU_LIMIT = 1000
"""DynamoDB's write throughput of one partition, write units a second."""
GSI_ENTRY_OVERHEAD = 100
"""Bytes DynamoDB adds to an index entry's size."""
RUN_INDEXES = {
    ("gsi1", "QUEUE"): 2,
    ("gsi1", "HEARTBEAT"): 2,
    ("gsi2", "DEPLOYMENT"): 3,
    ("gsi3", "FLOW"): 3,
    ("gsi4", "RUNS"): 2,
    ("gsi5", "RUNS"): 1,
}
"""The sharded run-index partitions: (index, first part of the key) -> parts before the shard."""
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PARAMETERS = {"day": "2026-03-01", "source": "s3://lake/raw/orders/2026/03/01/", "rows": 250_000}
"""A run's parameters in the sample (about 100 bytes of JSON)."""


@dataclass(frozen=True)
class Workload:
    """The target day, and what one flow run does (the sample's assumptions, stated)."""

    runs_per_day: int = 1_000_000
    tasks_per_run: int = 10
    peak_factor: float = 3.0
    """The peak hour's rate over the day's mean."""
    run_seconds: int = 120
    heartbeat_seconds: int = 30
    failed_every: int = 20
    """One run in this many ends FAILED (no retries), the rest COMPLETED."""

    @property
    def heartbeats_per_run(self) -> int:
        """The SDK beats every 30 s from the start, so a 2-minute run beats 4 times."""
        return self.run_seconds // self.heartbeat_seconds

    @property
    def peak_runs_per_second(self) -> float:
        """Flow runs started (and, in the steady state, finished) a second at the peak."""
        return self.runs_per_day / 86_400 * self.peak_factor


def value_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (numbers approximated by their digits)."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return len(str(raw)) // 2 + 1
    if kind in ("SS", "NS"):
        return sum(len(str(part).encode()) for part in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in raw)
    return 1


def item_size(item: dict[str, Any] | None) -> int:
    """DynamoDB's size of an item: attribute names and values, in bytes."""
    if item is None:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def units(size: int) -> int:
    """Write units of one write of `size` bytes (1 KB each, at least one)."""
    return max(1, math.ceil(size / 1024))


def unsharded(partition: str) -> tuple[str, bool]:
    """The partition with its shard suffix taken off, and whether it is a sharded one."""
    index, _, key = partition.partition(" ")
    parts = key.split("#")
    base = RUN_INDEXES.get((index, parts[0]))
    if base is None:
        return partition, False
    if len(parts) == base + 1 and parts[-1].isdigit():
        parts = parts[:-1]
    return f"{index} {'#'.join(parts)}", True


def family_of(partition: str) -> tuple[str, bool]:
    """A partition's family (its shards together, ids as `{id}`) and whether it is sharded."""
    whole, is_sharded = unsharded(partition)
    return UUID.sub("{id}", whole), is_sharded


@dataclass
class Writes:
    """Writes and write units one partition received, and which runs' calls made them."""

    writes: int = 0
    wcu: int = 0
    runs: set[str] = field(default_factory=set)


class WriteCounter:
    """Counts every write the store's client makes, per partition of the table and its GSIs."""

    def __init__(self, client: Any, reader: Any, table: str) -> None:
        """Hook `client` (the one pynamodb uses); `reader` reads items without being counted."""
        self.partitions: dict[str, Writes] = defaultdict(Writes)
        self.operations: Counter[str] = Counter()
        self.current_run = ""
        self.enabled = False
        self._reader = reader
        self._table = table
        self._context_key = f"load_model-{id(self)}"  # each counter sees its own calls only
        self._images: dict[tuple[str, str], dict[str, Any] | None] = {}
        """Each item as the last counted write left it: only counted writes change items."""
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(
        self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        if not self.enabled or model.name not in WRITE_OPERATIONS:
            return
        body = json.loads(params.get("body") or b"{}")
        keys, transactional = touched_keys(model.name, body)
        before = {key: self._image(key) for key in keys}
        context[self._context_key] = (model.name, keys, before, transactional)

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        seen = context.pop(self._context_key, None)
        if seen is None:
            return
        operation, keys, before, transactional = seen
        self.operations[operation] += 1
        failed = "Error" in parsed
        for key in keys:
            after = before[key] if failed else self._read(key)
            self._images[key] = after
            self._account(key, before[key], after, transactional, failed)

    def _image(self, key: tuple[str, str]) -> dict[str, Any] | None:
        if key not in self._images:
            self._images[key] = self._read(key)
        return self._images[key]

    def _read(self, key: tuple[str, str]) -> dict[str, Any] | None:
        found = self._reader.get_item(
            TableName=self._table,
            Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}},
            ConsistentRead=True,
        )
        item: dict[str, Any] | None = found.get("Item")
        return item

    def _account(
        self,
        key: tuple[str, str],
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        transactional: bool,
        failed: bool,
    ) -> None:
        factor = 2 if transactional else 1
        self._add(f"table {key[0]}", factor * units(max(item_size(before), item_size(after))))
        if failed or before == after:
            return  # no index entry changes when the item did not
        for n in range(1, 6):
            self._index_writes(n, before, after)

    def _index_writes(
        self, n: int, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        old, new = index_key(n, before), index_key(n, after)
        if old is not None and old == new:
            self._add(f"gsi{n} {new[0]}", units(item_size(after) + GSI_ENTRY_OVERHEAD))
            return
        if old is not None:
            self._add(f"gsi{n} {old[0]}", units(item_size(before) + GSI_ENTRY_OVERHEAD))
        if new is not None:
            self._add(f"gsi{n} {new[0]}", units(item_size(after) + GSI_ENTRY_OVERHEAD))

    def _add(self, partition: str, wcu: int) -> None:
        entry = self.partitions[partition]
        entry.writes += 1
        entry.wcu += wcu
        entry.runs.add(self.current_run)


WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)


def touched_keys(operation: str, body: dict[str, Any]) -> tuple[list[tuple[str, str]], bool]:
    """The (pk, sk) of every item a write request changes, and whether it is a transaction."""
    if operation == "TransactWriteItems":
        entries = [next(iter(part.items())) for part in body["TransactItems"]]
        writes = [entry for kind, entry in entries if kind != "ConditionCheck"]
        return [_key(entry.get("Item") or entry["Key"]) for entry in writes], True
    if operation == "BatchWriteItem":
        requests = [r for table in body["RequestItems"].values() for r in table]
        return [_key(_batch_item(r)) for r in requests], False
    return [_key(body.get("Item") or body["Key"])], False


def _batch_item(request: dict[str, Any]) -> dict[str, Any]:
    if "PutRequest" in request:
        item: dict[str, Any] = request["PutRequest"]["Item"]
        return item
    key: dict[str, Any] = request["DeleteRequest"]["Key"]
    return key


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return str(item["pk"]["S"]), str(item["sk"]["S"])


def index_key(n: int, item: dict[str, Any] | None) -> tuple[str, str] | None:
    """The item's key pair in gsi`n`, None when it is not in that index."""
    if item is None or f"gsi{n}pk" not in item or f"gsi{n}sk" not in item:
        return None
    return str(item[f"gsi{n}pk"]["S"]), str(item[f"gsi{n}sk"]["S"])


@dataclass(frozen=True)
class FamilyLoad:
    """One partition family's writes per flow run of the sample."""

    family: str
    sharded: bool
    shared: bool
    """Written by many runs' calls (scales with the day's runs), not one run's own partition."""
    writes_per_run: float
    wcu_per_run: float

    def peak_wcu_per_second(self, workload: Workload, shards: int) -> float:
        """Write units a second on one partition of the family at the workload's peak.

        A shared family's load grows with the runs a second and splits evenly over its shards
        (a hash of the run id); a run's own partition takes its writes over the run's life.
        """
        if not self.shared:
            return self.wcu_per_run / workload.run_seconds
        split = shards if self.sharded else 1
        return self.wcu_per_run * workload.peak_runs_per_second / split

    def peak_writes_per_second(self, workload: Workload, shards: int) -> float:
        """Item writes a second on one partition of the family at the workload's peak."""
        return self.peak_wcu_per_second(workload, shards) * self.writes_per_run / self.wcu_per_run

    def max_runs_per_day(self, workload: Workload, shards: int) -> float:
        """The day (at the same peak factor) at which one partition reaches the limit."""
        if not self.shared:
            return math.inf
        split = shards if self.sharded else 1
        per_second = PARTITION_WCU_LIMIT * split / self.wcu_per_run
        return per_second / workload.peak_factor * 86_400


def family_loads(counter: WriteCounter, runs: int) -> list[FamilyLoad]:
    """The sample's partitions grouped into families, hottest (write units a run) first."""
    grouped: dict[str, list[Writes]] = defaultdict(list)
    sharded: dict[str, bool] = {}
    writers: dict[str, set[str]] = defaultdict(set)  # runs writing each unsharded partition
    for partition, writes in counter.partitions.items():
        family, is_sharded = family_of(partition)
        grouped[family].append(writes)
        sharded[family] = is_sharded
        writers[unsharded(partition)[0]] |= writes.runs
    shared = {family_of(whole)[0] for whole, runs_of in writers.items() if len(runs_of) > 1}
    loads = [
        FamilyLoad(
            family=family,
            sharded=sharded[family],
            shared=family in shared,
            writes_per_run=sum(w.writes for w in parts) / runs,
            wcu_per_run=sum(w.wcu for w in parts) / runs,
        )
        for family, parts in grouped.items()
    ]
    return sorted(loads, key=lambda load: (load.shared, load.wcu_per_run), reverse=True)


def capacity(loads: list[FamilyLoad], workload: Workload, shards: int) -> tuple[str, float]:
    """The family that reaches the limit first, and the runs a day at which it does."""
    shared = [load for load in loads if load.shared]
    first = min(shared, key=lambda load: load.max_runs_per_day(workload, shards))
    return first.family, first.max_runs_per_day(workload, shards)


class ReadCounter:
    """Counts the queries the store's client makes, and their read units (eventually
    consistent: half a unit per 4 KB of items read, at least half a unit a query)."""

    def __init__(self, client: Any) -> None:
        """Hook `client` (the one pynamodb uses)."""
        self.queries = 0
        self.items = 0
        self.rcu = 0.0
        client.meta.events.register("after-call.dynamodb.Query", self._count)

    def _count(self, parsed: dict[str, Any], **_: Any) -> None:
        read = sum(item_size(item) for item in parsed.get("Items", ()))
        self.queries += 1
        self.items += len(parsed.get("Items", ()))
        self.rcu += max(1, math.ceil(read / 4096)) * 0.5


def report(loads: list[FamilyLoad], workload: Workload, shard_counts: list[int]) -> list[str]:
    """The figures as markdown: per family, the peak writes and write units a second on one
    partition, for each shard count; then the first family to reach the limit."""
    header = "| partition (index, key) | sharded | writes / run | WCU / run |"
    rule = "|---|---|---|---|"
    for n in shard_counts:
        header += f" N={n}: writes/s, WCU/s per partition |"
        rule += "---|"
    lines = [header, rule]
    for load in loads:
        row = f"| `{load.family}` | {'yes' if load.sharded else 'no'} |"
        row += f" {load.writes_per_run:.2f} | {load.wcu_per_run:.2f} |"
        for n in shard_counts:
            writes, wcu = (
                load.peak_writes_per_second(workload, n),
                load.peak_wcu_per_second(workload, n),
            )
            row += f" {writes:,.1f} / **{wcu:,.1f}** |" if load.shared else f" {wcu:.2f} (own) |"
        lines.append(row)
    for n in shard_counts:
        family, most = capacity(loads, workload, n)
        lines.append(
            f"N={n}: `{family}` reaches {PARTITION_WCU_LIMIT} WCU/s at {most:,.0f} runs/day"
        )
    return lines
