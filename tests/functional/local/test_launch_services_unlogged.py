"""The emulator's write-ahead log leaves out the push-launch services (rebuilt at every start):
their writes are not replayed at the next start, while a table write still is."""

from __future__ import annotations

from pathlib import Path

from stratoflow_functions.local.emulator import Emulator
from stratoflow_functions.local.recording import UNLOGGED_SERVICES


def test_launch_service_writes_are_not_logged_and_not_replayed(tmp_path: Path) -> None:
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
    again = Emulator(tmp_path / "local")  # moto's backends are per process: count, not look
    try:
        assert again.start().replayed_writes == 1  # the bucket only
    finally:
        again.stop()
    assert {"states", "lambda", "ecs", "secretsmanager"} <= UNLOGGED_SERVICES
