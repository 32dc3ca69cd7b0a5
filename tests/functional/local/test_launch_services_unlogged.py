"""The emulator's write-ahead log leaves out the push-launch services (rebuilt at every start,
so a replay would start executions and tasks again), while a bucket write is still logged."""

from __future__ import annotations

from pathlib import Path

from stratoflow_functions.local.emulator import Emulator
from stratoflow_functions.local.recording import UNLOGGED_SERVICES
from stratoflow_functions.local.wal import read_entries


def test_launch_service_writes_are_not_logged(tmp_path: Path) -> None:
    emulator = Emulator(tmp_path / "local")
    emulator.start()
    try:
        clients = emulator.clients
        clients.client("secretsmanager").create_secret(Name="launch-key", SecretString="k")
        clients.client("ecs").create_cluster(clusterName="local")
        assert emulator.log_size == 0
        clients.s3.create_bucket(Bucket="kept")
        assert emulator.log_size == 1
    finally:
        emulator.stop()
    wal = tmp_path / "local" / f"wal-{emulator.generation}.jsonl"
    assert [entry.service for entry in read_entries(wal)] == ["s3"]  # what a start replays
    assert {"states", "lambda", "ecs", "secretsmanager"} <= UNLOGGED_SERVICES
