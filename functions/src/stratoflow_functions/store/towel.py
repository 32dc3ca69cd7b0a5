"""Queries and writes only the Towel services need: cursors, sweep marks, keyed lookups, deletes.

The scheduler walks deployments a bounded chunk per tick and keeps its place in a cursor item;
it remembers, per deployment, which version of the deployment it last swept for runs that no
schedule wants any more (a `SweepMark`), so the costly sweep runs only after a change. Deleting
an auto-scheduled run removes its idempotency key in the same transaction, so the same
(deployment, schedule, start) can be created again after a resume. Items: `TOWEL#{service}` /
`CURSOR` and `SCHEDULER#{deployment id}` / `SWEEP` (see docs/towel.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from stratoflow.schemas import FlowRun, Page, StateType
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import cancellation_codes, dynamo_errors
from stratoflow_functions.store.flow_runs import (
    IDEMPOTENCY_SK,
    TXN_CONDITION_FAILED,
    FlowRunRepository,
)
from stratoflow_functions.store.keys import (
    AFTER_ANY_SUFFIX,
    deployment_runs_partition,
    flow_run_pk,
    idempotency_pk,
    parse_time,
    queue_partition,
    time_key,
)
from stratoflow_functions.store.pages import all_of, is_live, readable
from stratoflow_functions.store.run_items import FLOW_RUN_SK, flow_run_from_item
from stratoflow_functions.store.shards import ShardedQuery
from stratoflow_functions.store.store import Store

CURSOR_SK = "CURSOR"
SWEEP_SK = "SWEEP"
SCHEDULED_NAME = "Scheduled"


def cursor_pk(service: str) -> str:
    """Partition key of a Towel service's walk cursor."""
    return f"TOWEL#{service}"


def sweep_pk(deployment_id: UUID) -> str:
    """Partition key of the scheduler's sweep mark for one deployment."""
    return f"SCHEDULER#{deployment_id}"


@dataclass(frozen=True)
class SweepMark:
    """What the scheduler last swept a deployment for.

    Attributes:
        deployment_updated: The deployment's `updated` time the sweep was computed against.
        swept_at: When that sweep finished.
    """

    deployment_updated: datetime
    swept_at: datetime


class TowelRepository:
    """The Towel services' own reads and writes on the shared table."""

    def __init__(self, ctx: StoreContext, runs: FlowRunRepository) -> None:
        """Bind to a store's table and clock, and its flow runs (for their sharded indexes)."""
        self._ctx = ctx
        self._runs = runs

    def cursor(self, service: str) -> str | None:
        """Where `service` stopped walking last time (an opaque list token), None at the start."""
        found = self._ctx.find(cursor_pk(service), CURSOR_SK, self._ctx.models.towel_cursor)
        return None if found is None else found.data

    def set_cursor(self, service: str, token: str | None) -> None:
        """Remember where to walk on from; last writer wins (overlapping ticks agree anyway)."""
        item = self._ctx.models.towel_cursor(cursor_pk(service), CURSOR_SK, data=token)
        with dynamo_errors():
            item.save()

    def sweep_marks(self, deployment_ids: Iterable[UUID]) -> dict[UUID, SweepMark]:
        """The sweep marks of these deployments (those that have one), in one batch read."""
        keys = [(sweep_pk(deployment_id), SWEEP_SK) for deployment_id in deployment_ids]
        marks: dict[UUID, SweepMark] = {}
        with dynamo_errors():
            for item in self._ctx.models.sweep_mark.batch_get(keys, consistent_read=True):
                body = json.loads(item.data or "{}")
                marks[UUID(item.pk.removeprefix("SCHEDULER#"))] = SweepMark(
                    parse_time(body["deployment_updated"]), parse_time(body["swept_at"])
                )
        return marks

    def set_sweep_mark(self, deployment_id: UUID, mark: SweepMark) -> None:
        """Record a finished sweep (overwrites: a stale mark only causes one more sweep)."""
        body = {
            "deployment_updated": time_key(mark.deployment_updated),
            "swept_at": time_key(mark.swept_at),
        }
        item = self._ctx.models.sweep_mark(sweep_pk(deployment_id), SWEEP_SK, data=json.dumps(body))
        with dynamo_errors():
            item.save()

    def existing_keys(self, keys: Iterable[tuple[UUID, str]]) -> set[tuple[UUID, str]]:
        """Which (flow id, idempotency key) pairs have a live key item (consistent batch read)."""
        wanted = {idempotency_pk(flow_id, key): (flow_id, key) for flow_id, key in keys}
        found: set[tuple[UUID, str]] = set()
        now = self._ctx.clock()
        with dynamo_errors():
            pairs = [(pk, IDEMPOTENCY_SK) for pk in wanted]
            for item in self._ctx.models.idempotency_key.batch_get(pairs, consistent_read=True):
                if is_live(item, now):
                    found.add(wanted[item.pk])
        return found

    def scheduled_runs_of(
        self,
        deployment_id: UUID,
        created_after: datetime | None,
        limit: int,
        next_token: str | None,
    ) -> Page[FlowRun]:
        """SCHEDULED runs of a deployment, oldest created first, optionally only recent ones."""
        query = ShardedQuery(
            deployment_runs_partition(deployment_id),
            "gsi2",
            lower=None if created_after is None else time_key(created_after),
            filter=self._ctx.models.flow_run.state_type == StateType.SCHEDULED.value,
        )
        items, token = self._runs.query(query, limit, next_token)
        return Page[FlowRun](items=readable(items, flow_run_from_item), next_token=token)

    def unmarked_due(
        self, work_queue: str, before: datetime, limit: int, next_token: str | None
    ) -> Page[FlowRun]:
        """SCHEDULED runs of a queue named `Scheduled` (not yet Late) due at or before `before`."""
        item = self._ctx.models.flow_run
        query = ShardedQuery(
            queue_partition(work_queue),
            "gsi1",
            upper=time_key(before) + AFTER_ANY_SUFFIX,
            filter=all_of(
                item.state_type == StateType.SCHEDULED.value, item.state_name == SCHEDULED_NAME
            ),
        )
        items, token = self._runs.query(query, limit, next_token)
        return Page[FlowRun](items=readable(items, flow_run_from_item), next_token=token)

    def delete_scheduled_run(self, run: FlowRun) -> bool:
        """Delete a SCHEDULED run still at `run.version`, with its idempotency key, atomically.

        Returns:
            False when the run moved on (claimed, marked Late, deleted) since it was read.

        Raises:
            ThrottledError: DynamoDB throttled the write or another transaction held the run.
        """
        runs, keys = self._ctx.models.flow_run, self._ctx.models.idempotency_key
        unchanged = (runs.version == run.version) & (runs.state_type == StateType.SCHEDULED.value)
        try:
            with dynamo_errors(), TransactWrite(connection=self._ctx.models.connection()) as txn:
                txn.delete(runs(flow_run_pk(run.id), FLOW_RUN_SK), condition=unchanged)
                if run.idempotency_key is not None:
                    key = keys(idempotency_pk(run.flow_id, run.idempotency_key), IDEMPOTENCY_SK)
                    # Only the key that points at this run: never free a key another run holds.
                    ours = keys.pk.does_not_exist() | (keys.run_id == str(run.id))
                    txn.delete(key, condition=ours)
        except TransactWriteError as exc:
            if TXN_CONDITION_FAILED in cancellation_codes(exc):
                return False
            raise
        return True


def towel_repository(store: Store) -> TowelRepository:
    """The Towel repository on the same table, clock and connection as `store`."""
    # Same package: the store's context is shared rather than binding a second item class.
    return TowelRepository(store.flow_runs._ctx, store.flow_runs)
