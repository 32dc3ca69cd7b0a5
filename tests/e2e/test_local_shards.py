"""A local stack whose data was written before the run indexes were sharded is read whole after
the upgrade, through the emulator's real restart paths (log replay, then snapshot restore): no
migration runs, because shard 0 of every index is the unsharded partition."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from stratoflow.schemas import FlowRunFilter, State, StateType
from stratoflow_functions.config import Settings
from stratoflow_functions.local.emulator import Emulator
from stratoflow_functions.store import Store, build_store, create_table
from stratoflow_functions.store.keys import SHARD_LAYOUT_PK, shard_of
from tests.functional.store.store_support import T0, FakeClock, make_run, scheduled_run

pytestmark = [pytest.mark.timeout(120)]
TABLE = "stratoflow-upgrade"


@pytest.fixture
def emulator_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "emulator"
    reset_moto()


def reset_moto() -> None:
    from moto.backends import get_backend

    for name in ("dynamodb", "s3", "events", "sqs"):
        get_backend(name).reset()  # type: ignore[no-untyped-call]


def restarted(data_dir: Path, old: Emulator | None = None) -> Emulator:
    """A new emulator process's start (moto's backend is per process: reset it first)."""
    if old is not None:
        old.stop()
    reset_moto()
    emulator = Emulator(data_dir)
    emulator.start()
    return emulator


def store_on(emulator: Emulator, shards: int, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A store on the emulator's table, signing as the stack does (its credentials in env)."""
    for name, value in emulator.credentials.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    settings = Settings(table_name=TABLE, aws_endpoint_url=emulator.url, index_shards=shards)
    return build_store(settings, clock=FakeClock())


def test_runs_written_unsharded_are_listed_claimed_and_swept_after_the_upgrade(
    emulator_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = restarted(emulator_dir)
    old = store_on(emulator, 1, monkeypatch)  # one shard writes the unsharded keys exactly
    create_table(old.flow_runs._ctx.settings, emulator.clients.dynamodb)
    listed = [make_run(at=T0 + timedelta(seconds=n)) for n in range(10)]
    live = make_run(state=State(type=StateType.RUNNING, timestamp=T0), heartbeat=T0)
    due = scheduled_run(T0 - timedelta(minutes=5))
    for run in [*listed, live, due]:
        old.flow_runs.create(run)
    key = {"pk": {"S": SHARD_LAYOUT_PK}, "sk": {"S": SHARD_LAYOUT_PK}}
    emulator.clients.dynamodb.delete_item(TableName=TABLE, Key=key)  # as before sharding
    items = emulator.clients.dynamodb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    assert {item["gsi5pk"]["S"] for item in items} == {"RUNS"}  # the pre-sharding keys
    everything = sorted(  # the all-runs order: expected start, else creation (docs/data-model.md)
        [*listed, live, due],
        key=lambda r: (r.expected_start_time or r.created, str(r.id)),
        reverse=True,
    )
    assert {shard_of(run.id, 8) for run in everything} - {0}, "some run belongs elsewhere now"

    for _ in ("the log replayed", "the snapshot restored"):
        emulator = restarted(emulator_dir, emulator)
        upgraded = store_on(emulator, 8, monkeypatch)
        page = upgraded.flow_runs.list(FlowRunFilter(), 100, None)
        stale = upgraded.flow_runs.stale(StateType.RUNNING, T0 + timedelta(hours=1), 10, None)

        assert [run.id for run in page.items] == [run.id for run in everything]
        assert [run.id for run in stale.items] == [live.id]
        assert [run.id for run in upgraded.flow_runs.due("default", T0, 10)] == [due.id]
    emulator.stop()
