"""The stream consumer's writes: state-history items and run counters, exactly once.

The history item is the marker. A group of records is one TransactWriteItems: each record's
history Put conditional on `attribute_not_exists(pk)`, plus one `ADD` per counter item of the
group's summed deltas. The counters move exactly when the history items are created, so a
redelivered record (its history item exists) cancels its group, which is then redone one record
per transaction, skipping the records already written. A group stays within DynamoDB's limits
(`MAX_HISTORY_PUTS` Puts, `MAX_ACTIONS` actions). Conflicts with a concurrent batch and
throttling are retried with backoff; a record that still fails stops the batch there: it and
every record after it are reported, to be redelivered (see docs/data-model.md).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from stratoflow.schemas import StateType
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import (
    RETRYABLE_REASONS,
    THROTTLE_CODES,
    cancellation_codes,
)
from stratoflow_functions.store.keys import flow_run_pk, state_sk
from stratoflow_functions.store.run_history import Record, RunChange, run_changes

MAX_HISTORY_PUTS = 25
MAX_ACTIONS = 100
ATTEMPTS = 6
BACKOFF_SECONDS = 0.05
TXN_CONDITION_FAILED = "ConditionalCheckFailed"


def _items(change: RunChange) -> set[tuple[str, str]]:
    return {(partition, bucket) for partition, bucket, _ in change.deltas}


def groups(changes: Sequence[RunChange]) -> list[list[RunChange]]:
    """Consecutive groups of at most `MAX_HISTORY_PUTS` records and `MAX_ACTIONS` actions, no
    history item twice in one group (a record delivered twice in one batch)."""
    found: list[list[RunChange]] = []
    current: list[RunChange] = []
    items: set[tuple[str, str]] = set()
    for change in changes:
        mine = _items(change)
        merged = items | mine
        again = any(
            c.history.run_id == change.history.run_id
            and c.history.version == change.history.version
            for c in current
        )
        if current and (
            again  # one transaction may not write an item twice
            or len(current) == MAX_HISTORY_PUTS
            or len(current) + 1 + len(merged) > MAX_ACTIONS
        ):
            found.append(current)
            current, merged = [], mine
        current.append(change)
        items = merged
    if current:
        found.append(current)
    return found


def summed(group: Sequence[RunChange]) -> dict[tuple[str, str], dict[StateType, int]]:
    """The group's deltas per counter item (zeros dropped)."""
    per_item: dict[tuple[str, str], dict[StateType, int]] = defaultdict(lambda: defaultdict(int))
    for change in group:
        for (partition, bucket, state), delta in change.deltas.items():
            per_item[(partition, bucket)][state] += delta
    return {
        key: {state: n for state, n in moves.items() if n}
        for key, moves in per_item.items()
        if any(moves.values())
    }


def _retryable(exc: PynamoDBException) -> bool:
    if exc.cause_response_code in THROTTLE_CODES:
        return True
    codes = cancellation_codes(exc) if isinstance(exc, TransactWriteError) else []
    return any(code in RETRYABLE_REASONS for code in codes)


class RunCounting:
    """Writes the history items and counter moves of stream records (the consumer's part)."""

    def __init__(self, ctx: StoreContext, sleep: Callable[[float], None] = time.sleep) -> None:
        """Bind to a store's table; `sleep` waits between retries."""
        self._ctx = ctx
        self._sleep = sleep

    def record(self, records: Sequence[Record]) -> list[str]:
        """Write what `records` add; the sequence numbers of the records not written (the first
        that failed and every record after it), empty when all were.
        """
        settings = self._ctx.settings
        changes = run_changes(records, settings.index_shards, settings.run_retention_days)
        for group in groups(changes):
            failed = self._write_group(group)
            if failed is not None:
                sequences = [str(r.get("dynamodb", {}).get("SequenceNumber", "")) for r in records]
                return sequences[sequences.index(failed) :]
        return []

    def _write_group(self, group: list[RunChange]) -> str | None:
        """Write a group whole, else one record at a time; the first record that failed."""
        try:
            self._retrying(group)
            return None
        except PynamoDBException:
            pass  # a redelivered record, or a failing one: find which, one by one
        for change in group:
            try:
                self._retrying([change])
            except TransactWriteError as exc:
                if cancellation_codes(exc)[:1] != [TXN_CONDITION_FAILED]:
                    return change.sequence
            except PynamoDBException:
                return change.sequence
        return None

    def _retrying(self, group: list[RunChange]) -> None:
        for attempt in range(ATTEMPTS):
            try:
                self._transact(group)
                return
            except PynamoDBException as exc:
                if not _retryable(exc) or attempt == ATTEMPTS - 1:
                    raise
            self._sleep(BACKOFF_SECONDS * 2**attempt * (0.5 + random.random()))  # noqa: S311

    def _transact(self, group: list[RunChange]) -> None:
        models = self._ctx.models
        history, stats = models.flow_run_state, models.run_stats
        with TransactWrite(connection=models.connection()) as txn:
            for change in group:
                entry = change.history
                item = history(
                    flow_run_pk(entry.run_id),
                    state_sk(entry.version),
                    data=entry.state,
                    expires_at=entry.expires_at,
                )
                txn.save(item, condition=history.pk.does_not_exist())
            for (partition, bucket), moves in summed(group).items():
                actions: list[Action] = [stats.entity.set(stats)]
                for state, delta in sorted(moves.items()):
                    actions.append(getattr(stats, state.value.lower()).add(delta))
                txn.update(stats(partition, bucket), actions)
