"""The embedded AWS emulator of the local stack: moto's server on a loopback port, made
durable under a data folder.

Start-up rebuilds the state: the latest snapshot is restored through the AWS APIs, then the
write-ahead log of its generation is replayed through moto's application; then a new snapshot
is written and a new, empty log begun (compaction), so start time follows the amount of data,
not the number of writes ever made. When the log was empty the snapshot is the state as it
is: logging continues in its generation and no snapshot is written. While running, every
write that took effect is logged
before it is acknowledged (`recording.py`), and the log is compacted again once it grows past
a threshold. Files: `snapshot.jsonl` and `wal-<generation>.jsonl` in the data folder (0700,
files 0600).

Only the stack gets in: the server answers only requests signed with the emulator's own
credentials (new random ones each start, held by this object and handed to the stack's clients),
or presigned with them (`signed_only.py`); anything else is refused with 403 before moto sees it.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratoflow_functions.local.emulator_fixes import install_emulator_fixes
from stratoflow_functions.local.private_files import private_dir
from stratoflow_functions.local.recording import RecordingApp, replay
from stratoflow_functions.local.signed_only import SignedRequestsOnly
from stratoflow_functions.local.sigv4 import EmulatorCredentials
from stratoflow_functions.local.snapshot import (
    SNAPSHOT_SERVICES,
    read_generation,
    restore_record,
    snapshot_records,
    write_snapshot,
)
from stratoflow_functions.local.wal import WalEntry, WriteAheadLog, read_entries

logger = logging.getLogger(__name__)
SNAPSHOT_FILE = "snapshot.jsonl"
SOCKET_TIMEOUT_SECONDS = 60.0
"""A client silent this long mid-request is dropped (no thread waits forever on it)."""


@dataclass(frozen=True)
class RestoreReport:
    """What start-up found and did, and how long it took."""

    snapshot_records: int
    replayed_writes: int
    failed_replays: int
    seconds: float


class AwsClients:
    """boto3 clients for the emulator, signing with its credentials (built on first use)."""

    def __init__(self, endpoint_url: str, region: str, credentials: EmulatorCredentials) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.credentials = credentials
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        """A boto3 client for `service` against the emulator."""
        if service not in self._clients:
            import boto3

            make: Any = boto3.client  # any service by name (the stubs want a literal)
            self._clients[service] = make(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=self.credentials.access_key_id,
                aws_secret_access_key=self.credentials.secret_access_key,
                aws_session_token=None,
            )
        return self._clients[service]

    @property
    def dynamodb(self) -> Any:
        """The DynamoDB client."""
        return self.client("dynamodb")

    @property
    def s3(self) -> Any:
        """The S3 client."""
        return self.client("s3")


class Emulator:
    """moto's server with durable state under `data_dir`, for holders of `credentials` only.

    Args:
        data_dir: Where the snapshot and the log live.
        host: The address to listen on.
        region: The region of the clients it hands out.
        fsync: Whether every logged write is fsynced.
        credentials: The only credentials accepted; new random ones when omitted.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        region: str = "us-east-1",
        fsync: bool = False,
        credentials: EmulatorCredentials | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.region = region
        self.fsync = fsync
        self.credentials = credentials or EmulatorCredentials.generate()
        self.generation = 0
        self._app: RecordingApp | None = None
        self.front: SignedRequestsOnly | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._clients: AwsClients | None = None

    @property
    def url(self) -> str:
        """The emulator's endpoint URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def clients(self) -> AwsClients:
        """boto3 clients for the emulator."""
        assert self._clients is not None, "start() first"
        return self._clients

    @property
    def log_size(self) -> int:
        """How many writes the current log holds."""
        log = self._app.log if self._app else None
        return log.count if log else 0

    def start(self) -> RestoreReport:
        """Serve on a free port, rebuild the saved state, compact, and begin logging."""
        private_dir(self.data_dir)
        self._serve()
        began = time.monotonic()
        restored, replayed, failed = self._restore()
        if replayed or not self._snapshot_path.exists():
            self.compact()
        else:
            self._continue_log()
        report = RestoreReport(restored, replayed, failed, time.monotonic() - began)
        logger.info("emulator state restored: %s", report)
        return report

    def _serve(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            timeout = SOCKET_TIMEOUT_SECONDS

            def log_request(self, *args: Any) -> None:
                """Emulator requests are not logged (they carry keys and are many)."""

        install_emulator_fixes()
        self._app = RecordingApp(DomainDispatcherApplication(create_backend_app))
        self.front = SignedRequestsOnly(self._app, self.credentials)
        self._server = make_server(
            self.host, 0, self.front, threaded=True, request_handler=QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="stratoflow-emulator", daemon=True
        )
        self._thread.start()
        self._clients = AwsClients(self.url, self.region, self.credentials)

    def _restore(self) -> tuple[int, int, int]:
        snapshot = self.data_dir / SNAPSHOT_FILE
        self.generation = read_generation(snapshot)
        restored = 0
        for record in snapshot_records(snapshot):
            if "raw" in record:
                self._replay([WalEntry.from_line(record["raw"])])
            else:
                restore_record(record, self.clients)
            restored += 1
        entries = list(read_entries(self._wal_path(self.generation)))
        failures = self._replay(entries)
        for failure in failures:
            logger.warning("a logged write did not replay cleanly: %s", failure)
        return restored, len(entries), len(failures)

    def _replay(self, entries: list[WalEntry]) -> list[str]:
        assert self._app is not None
        return replay(self._app.app, entries, self._base_environ())

    def _base_environ(self) -> dict[str, Any]:
        host, port = self._server.server_address[:2]
        return {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
        }

    def _wal_path(self, generation: int) -> Path:
        return self.data_dir / f"wal-{generation}.jsonl"

    def compact(self) -> int:
        """Snapshot the state and start a new, empty log (writes wait meanwhile).

        Returns:
            How many records the new snapshot holds.
        """
        assert self._app is not None
        with self._app.lock:
            old = self.generation
            carried = list(self._carried(old))
            count = write_snapshot(self._snapshot_path, old + 1, self.clients, carried)
            if self._app.log is not None:
                self._app.log.close()
            self.generation = old + 1
            self._app.log = WriteAheadLog(self._wal_path(self.generation), fsync=self.fsync)
        self._wal_path(old).unlink(missing_ok=True)
        return count

    def _continue_log(self) -> None:
        """Log on into the current generation (its snapshot plus this log are the state)."""
        assert self._app is not None
        with self._app.lock:
            self._app.log = WriteAheadLog(self._wal_path(self.generation), fsync=self.fsync)

    @property
    def _snapshot_path(self) -> Path:
        return self.data_dir / SNAPSHOT_FILE

    def _carried(self, generation: int) -> Iterator[WalEntry]:
        """Logged writes of services a snapshot does not capture, oldest first."""
        for record in snapshot_records(self._snapshot_path):
            if "raw" in record:
                yield WalEntry.from_line(record["raw"])
        for entry in read_entries(self._wal_path(generation)):
            if entry.service not in SNAPSHOT_SERVICES:
                yield entry

    def stop(self) -> None:
        """Stop serving and close the log (everything logged is already on disk)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._app is not None and self._app.log is not None:
            with self._app.lock:
                self._app.log.close()
                self._app.log = None
