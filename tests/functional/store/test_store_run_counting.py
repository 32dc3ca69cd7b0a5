"""The stream consumer's writes over moto's real table stream: state history and run counters
exactly once (a redelivered batch counts once), and a record whose write fails is reported
with every record after it, none of them written, while the records before it are."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3

from stratoflow.schemas import StateType
from stratoflow_functions.config import Settings
from stratoflow_functions.services.state_events import handle_stream_batch
from stratoflow_functions.store import Store
from stratoflow_functions.store.keys import (
    flow_run_pk,
    shard_of,
    sharded,
    state_sk,
    stats_bucket,
    stats_partition,
)
from tests.functional.store.store_support import T0, flow_run_records, make_run, moved, save

WINDOW = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))


def _seq(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def _lifecycles(store: Store) -> list[Any]:
    """Three runs: one COMPLETED (PENDING, RUNNING, COMPLETED), one RUNNING, one PENDING."""
    runs = [make_run() for _ in range(3)]
    for run in runs:
        store.flow_runs.create(run)
    for run, states in zip(
        runs, [(StateType.RUNNING, StateType.COMPLETED), (StateType.RUNNING,), ()], strict=True
    ):
        for state in states:
            run = moved(run, state, T0)
            save(store.flow_runs, run, expected_version=run.version - 1)
    return runs


def test_a_redelivered_batch_counts_once(store: Store, settings: Settings) -> None:
    runs = _lifecycles(store)
    records = flow_run_records(settings)
    assert len(records) == 6

    done = [StateType.PENDING, StateType.RUNNING, StateType.COMPLETED]
    assert [s.type for s in store.flow_runs.states(runs[0].id)] == [StateType.COMPLETED]
    assert store.run_counting.record(records[:4]) == []
    # COMPLETED's history item is not written yet: the run item supplies the current state
    assert [s.type for s in store.flow_runs.states(runs[0].id)] == done
    assert store.run_counting.record(records) == []  # the first four again, then the rest
    assert store.run_counting.record(records) == []  # all of it again
    assert store.run_counting.record(records + records) == []  # twice in one batch

    expected = {StateType.COMPLETED: 1, StateType.RUNNING: 1, StateType.PENDING: 1}
    assert store.flow_runs.stats(*WINDOW).by_state == expected
    assert store.flow_runs.stats(*WINDOW, flow_id=runs[0].flow_id).by_state == {
        StateType.COMPLETED: 1
    }
    states = [s.type for s in store.flow_runs.states(runs[0].id)]
    assert states == [StateType.PENDING, StateType.RUNNING, StateType.COMPLETED]


def _poison(settings: Settings, flow_id: Any, run_id: Any) -> dict[str, Any]:
    """A counter item of `flow_id` whose PENDING count is a string: an ADD on it fails."""
    key = {
        "pk": {
            "S": sharded(
                stats_partition(f"FLOW#{flow_id}"), shard_of(run_id, settings.index_shards)
            )
        },
        "sk": {"S": stats_bucket(T0)},
    }
    client = boto3.client("dynamodb", region_name=settings.region)
    client.put_item(
        TableName=settings.table_name,
        Item={**key, "entity": {"S": "run_stats"}, "PENDING": {"S": "not a number"}},
    )
    return key


def _has_history(settings: Settings, run: Any) -> bool:
    key = {"pk": {"S": flow_run_pk(run.id)}, "sk": {"S": state_sk(run.version)}}
    client = boto3.client("dynamodb", region_name=settings.region)
    return "Item" in client.get_item(TableName=settings.table_name, Key=key)


class _Events:
    """An EventBridge stand-in that accepts every entry and keeps the run ids it was given."""

    def __init__(self) -> None:
        self.run_ids: list[str] = []

    def put_events(self, *, Entries: Any) -> dict[str, Any]:  # noqa: N803
        self.run_ids += [json.loads(e["Detail"])["flow_run_id"] for e in Entries]
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}


def test_a_failing_record_is_reported_with_every_record_after_it(
    store: Store, settings: Settings
) -> None:
    first, poisoned, third = runs = [make_run() for _ in range(3)]
    for run in runs:
        store.flow_runs.create(run)
    records = flow_run_records(settings)
    key = _poison(settings, poisoned.flow_id, poisoned.id)
    events = _Events()

    result = handle_stream_batch(records, events, "default", store.run_counting)

    assert result.failed_sequence_numbers == (_seq(records[1]), _seq(records[2]))
    assert events.run_ids == [str(first.id)]  # the rest is published when redelivered
    assert store.flow_runs.stats(*WINDOW).by_state == {StateType.PENDING: 1}
    assert [_has_history(settings, run) for run in runs] == [True, False, False]

    boto3.client("dynamodb", region_name=settings.region).delete_item(
        TableName=settings.table_name, Key=key
    )
    again = handle_stream_batch(records[1:], events, "default", store.run_counting)

    assert again.failed_sequence_numbers == ()
    assert store.flow_runs.stats(*WINDOW).by_state == {StateType.PENDING: 3}
    assert events.run_ids == [str(first.id), str(poisoned.id), str(third.id)]
