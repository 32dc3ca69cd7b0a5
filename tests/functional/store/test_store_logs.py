"""Logs: batched into chunks, read back in time order with pages, dropped after retention."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import boto3

from stratoflow.schemas import LogCreate
from stratoflow_functions.config import Settings
from stratoflow_functions.store import Store
from tests.functional.store.store_support import T0, FakeClock


def _read_all(store: Store, run_id: object, page: int) -> list[LogCreate]:
    lines, token = [], None
    while True:
        got = store.logs.read(run_id, page, token)  # type: ignore[arg-type]
        lines += got.items
        token = got.next_token
        if token is None:
            return lines


def test_a_300_line_batch_reads_back_in_order_across_pages(store: Store) -> None:
    run_id = uuid4()
    lines = [
        LogCreate(flow_run_id=run_id, message=f"line {n}", timestamp=T0 + timedelta(seconds=n // 3))
        for n in range(300)
    ]

    assert store.logs.write(lines, T0) == 300
    read = _read_all(store, run_id, page=70)

    assert [line.message for line in read] == [f"line {n}" for n in range(300)]


def test_lines_written_out_of_order_read_back_by_timestamp(store: Store) -> None:
    run_id = uuid4()
    late = LogCreate(flow_run_id=run_id, message="late", timestamp=T0 + timedelta(seconds=5))
    early = LogCreate(flow_run_id=run_id, message="early", timestamp=T0)

    store.logs.write([late, early], T0)

    assert [line.message for line in store.logs.read(run_id, 10, None).items] == ["early", "late"]


def test_big_batches_split_into_items_under_the_size_limit(
    store: Store, settings: Settings
) -> None:
    run_id = uuid4()
    lines = [
        LogCreate(flow_run_id=run_id, message=str(n) * 16_000, timestamp=T0) for n in range(60)
    ]

    store.logs.write(lines, T0)

    raw = boto3.client("dynamodb", region_name=settings.region).scan(TableName=settings.table_name)
    sizes = [len(item["lines"]["S"].encode()) for item in raw["Items"]]
    assert len(sizes) >= 4
    assert max(sizes) < 300_000
    assert [line.message[:1] for line in _read_all(store, run_id, 25)] == [
        str(n)[:1] for n in range(60)
    ]


def test_logs_of_runs_in_one_batch_stay_apart(store: Store) -> None:
    one, two = uuid4(), uuid4()
    store.logs.write(
        [LogCreate(flow_run_id=run, message=str(run), timestamp=T0) for run in (one, two, one)], T0
    )

    assert [line.message for line in store.logs.read(one, 10, None).items] == [str(one)] * 2
    assert [line.flow_run_id for line in store.logs.read(two, 10, None).items] == [two]


def test_logs_past_their_retention_are_filtered_out(
    store: Store, clock: FakeClock, settings: Settings
) -> None:
    run_id = uuid4()
    store.logs.write([LogCreate(flow_run_id=run_id, message="old", timestamp=T0)], T0)

    clock.advance(days=settings.log_retention_days, seconds=1)

    assert store.logs.read(run_id, 10, None).items == []
