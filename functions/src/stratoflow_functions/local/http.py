"""The local stack's stand-in for API Gateway: a real HTTP server in front of the API handler.

Each request becomes the HTTP API (payload v2) event Lambda would get; the handler's answer
becomes the HTTP response. The server is waitress, a maintained pure-Python WSGI server, so the
HTTP itself (framing, `Content-Length`, slow or lying clients, the listen backlog, address reuse
after a crash) is handled by code that exists to do it:

- a request reaches the handler only once its whole body has arrived: a client that sends less
  than its `Content-Length` and gives up never has its request carried out;
- a `Content-Length` that is negative, not a number or repeated is a 400, and a body over
  `MAX_READ_BYTES` a 413, before anything is read into memory;
- the listening socket has `SO_REUSEADDR` (a restart after kill -9 binds the same port at once)
  and a backlog of `BACKLOG` connections;
- a fixed pool of `THREADS` worker threads calls the handler; `ApiApp.handle` is safe to call
  from all of them at once.

Methods the API does not serve (TRACE, CONNECT, ...) get a JSON 405 here, as the API would.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from waitress.server import create_server

from stratoflow_functions.local.events import http_api_event

EventHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]

MAX_READ_BYTES = 8 * 1024 * 1024
"""Bodies past this are refused unread (the API itself refuses anything over its own limit)."""
THREADS = 8
BACKLOG = 1024
IDLE_TIMEOUT_SECONDS = 30
"""An idle or stalled connection (a body that never finishes arriving) is closed after this."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ApiHttpServer:
    """Serves one event handler (normally `ApiApp.handle`) over HTTP.

    Binding happens in the constructor, so a busy port fails there (`OSError`) before anything
    else is touched. `handle_event` may be replaced before `start_in_thread`.
    """

    def __init__(
        self, address: tuple[str, int], handle: EventHandler, *, threads: int = THREADS
    ) -> None:
        self.handle_event = handle
        host, port = address
        self._server: Any = create_server(
            self._wsgi,
            host=host,
            port=port,
            threads=threads,
            backlog=BACKLOG,
            max_request_body_size=MAX_READ_BYTES,
            channel_timeout=IDLE_TIMEOUT_SECONDS,
            expose_tracebacks=False,
            ident="stratoflow",
        )
        self._thread: threading.Thread | None = None

    @property
    def server_address(self) -> tuple[str, int]:
        """The host and port actually bound (the port is chosen when 0 was asked for)."""
        return str(self._server.effective_host), int(self._server.effective_port)

    @property
    def url(self) -> str:
        """The base URL clients use."""
        host, port = self.server_address
        return f"http://{host}:{port}"

    def start_in_thread(self) -> threading.Thread:
        """Serve in a daemon thread; `shutdown()` stops it."""
        self._thread = threading.Thread(target=self._server.run, name="stratoflow-api", daemon=True)
        self._thread.start()
        return self._thread

    def shutdown(self) -> None:
        """Stop serving: close the listener and every connection, then stop the workers."""
        if self._thread is None:
            return
        try:
            self._server.trigger.pull_trigger(self._close_all)  # runs in the server's loop thread
        except OSError:  # the loop already closed its trigger: nothing runs thunks any more
            self._close_all()
        self._thread.join(timeout=10)
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        self._thread = None

    def server_close(self) -> None:
        """Release the port (after `shutdown`, or on a server that never served)."""
        if self._thread is None:
            self._close_all()
            self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)

    def _close_all(self) -> None:
        for channel in list(self._server._map.values()):
            channel.close()

    def _wsgi(self, environ: Mapping[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"])
        if method not in METHODS:
            return _reply(start_response, 405, _not_allowed(method))
        answer = self.handle_event(_event(environ), None)
        return _reply(start_response, int(answer.get("statusCode", 200)), answer)


def _event(environ: Mapping[str, Any]) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)  # waitress has checked it and read it all
    body = environ["wsgi.input"].read(length) if length else b""
    method = str(environ["REQUEST_METHOD"])
    return http_api_event(
        "GET" if method == "HEAD" else method,  # HEAD is GET without the body (waitress drops it)
        urlsplit(str(environ.get("REQUEST_URI") or "/")).path,
        query=str(environ.get("QUERY_STRING") or ""),
        headers=_headers(environ),
        body=body,
        source_ip=str(environ.get("REMOTE_ADDR") or "127.0.0.1"),
    )


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _reply(start_response: StartResponse, status: int, answer: Mapping[str, Any]) -> list[bytes]:
    text = answer.get("body") or ""
    payload = base64.b64decode(text) if answer.get("isBase64Encoded") else text.encode()
    headers = [
        (str(name), str(value))
        for name, value in (answer.get("headers") or {}).items()
        if str(name).lower() != "content-length"
    ]
    headers += [("Set-Cookie", str(cookie)) for cookie in answer.get("cookies") or []]
    headers.append(("Content-Length", str(len(payload))))
    start_response(f"{status} {_reason(status)}", headers)
    return [payload]


def _not_allowed(method: str) -> dict[str, Any]:
    error = {"code": "method_not_allowed", "message": f"the API does not serve {method} requests"}
    return {
        "statusCode": 405,
        "headers": {"content-type": "application/json", "allow": ", ".join(sorted(METHODS))},
        "body": json.dumps({"error": error}),
    }


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
