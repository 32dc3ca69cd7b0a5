"""The local HTTP adapter is a real HTTP server: lying clients, crowds and crashes.

These talk raw sockets to a live `ApiHttpServer`, because an HTTP client library would refuse
to send most of what is sent here.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from stratoflow_functions.local.http import ApiHttpServer

DEADLINE = 10.0


class Recorder:
    """An event handler that answers 200 and remembers what it was asked (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[Mapping[str, Any]] = []

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        with self.lock:
            self.events.append(event)
        body = json.dumps({"path": event["rawPath"], "body": event.get("body")})
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": body}


@pytest.fixture
def served() -> Iterator[tuple[ApiHttpServer, Recorder]]:
    recorder = Recorder()
    server = ApiHttpServer(("127.0.0.1", 0), recorder)
    server.start_in_thread()
    try:
        yield server, recorder
    finally:
        server.shutdown()
        server.server_close()


def _exchange(server: ApiHttpServer, raw: bytes, *, half_close: bool = False) -> bytes:
    """Send `raw`, then read until the server closes or the deadline passes."""
    with socket.create_connection(server.server_address, timeout=DEADLINE) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        reply = b""
        while not _complete(reply) and (chunk := sock.recv(65536)):
            reply += chunk
        return reply


def _complete(reply: bytes) -> bool:
    head, found, body = reply.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def _post(length: str, body: bytes = b"{}") -> bytes:
    head = "POST /flows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    return f"{head}Content-Length: {length}\r\nConnection: close\r\n\r\n".encode() + body


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "0x10", "99999999999999999999"])
def test_a_bad_content_length_is_refused_quickly(served, length: str) -> None:
    server, recorder = served
    started = time.monotonic()
    reply = _exchange(server, _post(length))
    assert _status(reply) in (400, 413)
    assert time.monotonic() - started < DEADLINE / 2
    assert recorder.events == []


def test_a_body_over_the_limit_is_refused_unread(served) -> None:
    server, recorder = served
    reply = _exchange(server, _post(str(64 * 1024 * 1024)))
    assert _status(reply) == 413
    assert recorder.events == []


def test_a_request_whose_client_gave_up_is_never_carried_out(served) -> None:
    server, recorder = served
    reply = _exchange(server, _post("100", b'{"name": "x"}'), half_close=True)
    assert reply == b""
    assert _status(_exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
    assert [event["rawPath"] for event in recorder.events] == ["/health"]


def test_a_whole_body_reaches_the_handler(served) -> None:
    server, recorder = served
    reply = _exchange(server, _post("13", b'{"name": "x"}'))
    assert _status(reply) == 200
    assert recorder.events[0]["body"] == '{"name": "x"}'


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_methods_the_api_does_not_serve_get_a_json_405(served, method: str) -> None:
    server, recorder = served
    reply = _exchange(server, f"{method} /flows HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert _status(reply) == 405
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"application/json" in head
    assert json.loads(body)["error"]["code"] == "method_not_allowed"
    assert recorder.events == []


SERVE_ONE = """
import sys
from stratoflow_functions.local.http import ApiHttpServer
answer = {"statusCode": 200, "body": "ok"}
server = ApiHttpServer(("127.0.0.1", int(sys.argv[1])), lambda event, context: answer)
print("ready", flush=True)
server.start_in_thread().join()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def child_server() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """The adapter in a process of its own, so the test can stop, continue and kill it."""
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE_ONE, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        yield child, port
    finally:
        child.kill()
        child.wait(timeout=DEADLINE)


def test_the_backlog_holds_a_crowd_of_connecting_clients(child_server) -> None:
    child, port = child_server
    crowd = 64
    child.send_signal(signal.SIGSTOP)  # nothing is accepted: only the backlog holds them
    try:
        with ThreadPoolExecutor(crowd) as pool:
            sockets = list(pool.map(lambda _: _connect(port, timeout=1.0), range(crowd)))
    finally:
        child.send_signal(signal.SIGCONT)
    connected = [sock for sock in sockets if sock is not None]
    try:
        assert len(connected) == crowd
        for sock in connected:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert [sock.recv(12) for sock in connected] == [b"HTTP/1.1 200"] * crowd
    finally:
        for sock in connected:
            sock.close()


def _connect(port: int, timeout: float) -> socket.socket | None:
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return None
    sock.settimeout(DEADLINE)
    return sock


def test_a_restart_after_kill_9_binds_the_same_port_at_once(child_server) -> None:
    child, port = child_server
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        child.send_signal(signal.SIGKILL)  # the server side closes first: TIME_WAIT
        child.wait(timeout=DEADLINE)
    again = ApiHttpServer(("127.0.0.1", port), Recorder())
    again.server_close()
    assert again.server_address[1] == port
