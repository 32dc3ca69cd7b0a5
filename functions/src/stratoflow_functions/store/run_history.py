"""What a flow run's state change writes besides the run: its state-history item and the moves
of the run counters (see docs/data-model.md, "State history" and "Run counters").

Both ride in the transaction of the run's conditional Put, so a history item exists exactly
for every state the run was stored in, and a counter moves exactly when a stored run changes
its state type or hour bucket: the counts can never drift from the runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pynamodb.expressions.update import Action

from stratoflow.schemas import FlowRun, StateType
from stratoflow_functions.store.items import FlowRunStateItem, RunStatsItem
from stratoflow_functions.store.keys import (
    expiry,
    flow_run_pk,
    shard_of,
    sharded,
    state_sk,
    stats_bucket,
    stats_partition,
)
from stratoflow_functions.store.models import Models
from stratoflow_functions.store.run_items import start_mark

ALL_RUNS_SCOPE = "RUNS"


@dataclass(frozen=True)
class CounterMove:
    """An `ADD` of +1/-1 per state type on one counter item."""

    target: RunStatsItem
    actions: list[Action]


def state_item(models: Models, run: FlowRun) -> FlowRunStateItem:
    """The history item of the state `run` is stored in (keyed by the run's version)."""
    start = max(run.state.timestamp, start_mark(run))
    return models.flow_run_state(
        flow_run_pk(run.id),
        state_sk(run.version),
        data=run.state.model_dump_json(),
        expires_at=expiry(start, models.settings.run_retention_days),
    )


def scopes(run: FlowRun) -> list[str]:
    """The counter scopes a run is counted in: every run, its flow, its deployment."""
    found = [ALL_RUNS_SCOPE, f"FLOW#{run.flow_id}"]
    if run.deployment_id is not None:
        found.append(f"DEPLOYMENT#{run.deployment_id}")
    return found


def _attribute(cls: type[RunStatsItem], state: StateType) -> object:
    return getattr(cls, state.value.lower())


def counter_moves(models: Models, before: FlowRun | None, after: FlowRun) -> list[CounterMove]:
    """The counter moves of storing `after` over `before` (None: a new or uncounted run).

    Nothing when neither the state type nor the hour bucket changes. The counters are in the
    run's shard (of this store's shard count); a read sums every shard, so a run that moved
    shard leaves -1 in one and +1 in another and the sum stays exact.
    """
    deltas: Counter[tuple[str, StateType]] = Counter()
    deltas[(stats_bucket(start_mark(after)), after.state.type)] += 1
    if before is not None:
        deltas[(stats_bucket(start_mark(before)), before.state.type)] -= 1
    cls, shard = models.run_stats, shard_of(after.id, models.settings.index_shards)
    by_bucket: dict[str, list[Action]] = {}
    for (bucket, state), delta in sorted(deltas.items()):
        if delta:
            by_bucket.setdefault(bucket, []).append(_attribute(cls, state).add(delta))  # type: ignore[attr-defined]
    moves: list[CounterMove] = []
    if not by_bucket:
        return moves
    for scope in scopes(after):
        partition = sharded(stats_partition(scope), shard)
        for bucket, actions in by_bucket.items():
            moves.append(CounterMove(cls(partition, bucket), [cls.entity.set(cls), *actions]))
    return moves
