"""A WSGI layer in front of moto's application that logs every state-changing request.

Writes go through one lock: the request is applied, and if the emulator answered 2xx it is
appended to the write-ahead log, all before the answer is sent. So the log holds exactly the
writes that took effect, in the order they took effect, and a replay from an empty emulator
meets the same conditions with the same outcomes (a conditional write that failed changed
nothing and is not logged). Reads are not locked and not logged.

Why not moto's own request recorder: it logs every request (reads and failed writes too),
before the request runs and outside any lock, so under the threaded server its order is not
the order writes were applied, and a replay can flip the winner of a conditional-write race.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from stratoflow_functions.local.wal import WalEntry, WriteAheadLog, entry_from_environ

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
READ_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "TransactGet")
NO_STATE_OPERATIONS = frozenset({"PutEvents"})
"""Operations that change nothing the emulator keeps for later (events to a bus are not
stored), left out of the log so it does not grow with every published event."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNLOGGED_SERVICES = frozenset({"states", "lambda", "ecs", "secretsmanager", "iam", "ec2"})
"""The push-launch machinery (`launchers.py`), rebuilt at every start and not durable: a replay
would start executions, invoke functions and run tasks again, and a Lambda invoke lasts as
long as its handler (a whole flow run, for the runner), far too long to hold the write lock."""


def operation_name(environ: Mapping[str, Any], body: bytes) -> str | None:
    """The API operation of a JSON (X-Amz-Target) or query (Action=) protocol request."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    action = parse_qs(str(environ.get("QUERY_STRING", ""))).get("Action")
    if action:
        return action[0]
    if "form-urlencoded" in str(environ.get("CONTENT_TYPE", "")):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        return action[0] if action else None
    return None


def is_write(environ: Mapping[str, Any], body: bytes) -> bool:
    """Whether a request may change the emulator's state (so it must be logged)."""
    if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
        return False
    operation = operation_name(environ, body)
    if operation is not None:
        return not operation.startswith(READ_PREFIXES) and operation not in NO_STATE_OPERATIONS
    return str(environ.get("REQUEST_METHOD", "GET")).upper() not in READ_METHODS


def service_name(environ: Mapping[str, Any]) -> str:
    """The signing service of a request (`dynamodb`, `s3`, ...), from its SigV4 scope."""
    credential = _credential(environ)
    parts = credential.split("/")
    if len(parts) >= 5:
        return parts[3]
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    return "dynamodb" if target.startswith("DynamoDB_") else "unknown"


def _credential(environ: Mapping[str, Any]) -> str:
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    if "Credential=" in header:
        return header.split("Credential=", 1)[1].split(",", 1)[0]
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    return unquote(query.get("X-Amz-Credential", [""])[0])


def read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back as a fresh stream (so moto can read it again)."""
    import io

    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH")
    if stream is None:
        return b""
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()  # chunked: the server marks the stream as ending by itself
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


class RecordingApp:
    """The emulator's WSGI app with its writes logged (once `log` is set)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.RLock()
        """Held for every logged write, and by compaction (which swaps the log)."""
        self.log: WriteAheadLog | None = None

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Serve one request, logging it if it is a write that took effect."""
        body = read_body(environ)
        if self.log is None or not is_write(environ, body):
            return self.app(environ, start_response)
        if service_name(environ) in UNLOGGED_SERVICES:
            return self.app(environ, start_response)
        with self.lock:
            status, headers, payload = call_app(self.app, environ)
            if status.startswith("2") and self.log is not None:
                self.log.append(entry_from_environ(environ, body, service_name(environ)))
        start_response(status, headers)
        return [payload]


def call_app(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[Any], bytes]:
    """Run a WSGI app to completion: its status line, headers and whole body."""
    answer: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        answer["status"], answer["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], b"".join(chunks)


def replay(app: WsgiApp, entries: Iterable[WalEntry], base: Mapping[str, Any]) -> list[str]:
    """Apply logged writes to `app` in order; the status lines of those that did not succeed."""
    failures = []
    for entry in entries:
        status, _, _ = call_app(app, entry.wsgi_environ(base))
        if not status.startswith("2"):
            failures.append(f"{status}: {entry.environ.get('HTTP_X_AMZ_TARGET', '')}")
    return failures
