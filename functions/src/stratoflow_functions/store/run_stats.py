"""Reading the run counters: exact counts by state type per hour bucket, in a bounded number
of requests (one query per index shard and 1 MB page, whatever the number of runs).

The counters are moved by the table's stream consumer (`run_counting`), exactly once per
stored state, a stream delay after the state change; see docs/data-model.md, "Run counters".
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from uuid import UUID

from stratoflow.schemas import FlowRunStats, StateType, StatsBucket
from stratoflow_functions.errors import UnprocessableError
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors
from stratoflow_functions.store.items import RunStatsItem
from stratoflow_functions.store.keys import (
    STATS_BUCKET_SECONDS,
    parse_time,
    sharded,
    stats_bucket,
    stats_partition,
)
from stratoflow_functions.store.run_history import ALL_RUNS_SCOPE

MAX_STATS_BUCKETS = 24 * 31
"""The widest range `GET /flow-runs/stats` answers: 31 days of hour buckets."""


def stats_scope(flow_id: UUID | None, deployment_id: UUID | None) -> str:
    """The counters that answer a filter: a deployment's, else a flow's, else every run's."""
    if deployment_id is not None:
        return f"DEPLOYMENT#{deployment_id}"
    if flow_id is not None:
        return f"FLOW#{flow_id}"
    return ALL_RUNS_SCOPE


def bucket_range(after: datetime, before: datetime) -> tuple[str, str]:
    """The first and last hour buckets of [after, before).

    Raises:
        UnprocessableError: `invalid_range` (before not after `after`), `range_too_large`.
    """
    if before <= after:
        raise UnprocessableError("before must be later than after", code="invalid_range")
    first, last = stats_bucket(after), stats_bucket(before - timedelta(microseconds=1))
    count = (parse_time(last) - parse_time(first)).total_seconds() // STATS_BUCKET_SECONDS + 1
    if count > MAX_STATS_BUCKETS:
        raise UnprocessableError(
            f"the range spans {int(count)} hour buckets; at most {MAX_STATS_BUCKETS}",
            code="range_too_large",
        )
    return first, last


def _counts(item: RunStatsItem) -> dict[StateType, int]:
    counts = {}
    for state in StateType:
        value = getattr(item, state.value.lower())
        if value:
            counts[state] = int(value)
    return counts


def read_stats(
    ctx: StoreContext, shards: int, scope: str, after: datetime, before: datetime
) -> FlowRunStats:
    """Sum the counters of `scope` over every shard, per bucket and in total.

    Raises:
        BadRequestError: see `bucket_range`.
    """
    first, last = bucket_range(after, before)
    cls = ctx.models.run_stats
    per_bucket: dict[str, dict[StateType, int]] = defaultdict(lambda: defaultdict(int))
    for shard in range(shards):
        partition = sharded(stats_partition(scope), shard)
        with dynamo_errors():
            for item in cls.query(partition, range_key_condition=cls.sk.between(first, last)):
                for state, value in _counts(item).items():
                    per_bucket[item.sk][state] += value
    total: dict[StateType, int] = defaultdict(int)
    buckets = []
    for key in sorted(per_bucket):
        counts = {state: n for state, n in per_bucket[key].items() if n}
        for state, n in counts.items():
            total[state] += n
        if counts:
            buckets.append(StatsBucket(start=parse_time(key), by_state=counts))
    return FlowRunStats(
        after=after,
        before=before,
        bucket_seconds=STATS_BUCKET_SECONDS,
        by_state={state: n for state, n in total.items() if n},
        buckets=buckets,
    )
