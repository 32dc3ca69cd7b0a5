"""A small threaded HTTP server that stands in for API Gateway in front of the API handler.

Each request becomes the HTTP API (payload v2) event Lambda would get; the handler's answer
becomes the HTTP response. Extra static routes (the dashboard) can be mounted beside it.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from stratoflow_functions.local.events import http_api_event

EventHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
MAX_READ_BYTES = 8 * 1024 * 1024
"""Bodies past this are not read at all (the API itself refuses anything over its limit)."""


class ApiHttpServer(ThreadingHTTPServer):
    """Serves one event handler (normally `ApiApp.handle`) over HTTP."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], handle: EventHandler) -> None:
        self.handle_event = handle
        super().__init__(address, _RequestHandler)

    @property
    def url(self) -> str:
        """The base URL clients use."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start_in_thread(self) -> threading.Thread:
        """Serve in a daemon thread; `shutdown()` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="stratoflow-api", daemon=True)
        thread.start()
        return thread


class _RequestHandler(BaseHTTPRequestHandler):
    server: ApiHttpServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the body waits for the
    # client's delayed ACK of the headers (~40 ms a request on keep-alive connections).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged to stderr (keys travel in headers; keep them out of logs)."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_READ_BYTES:
            self._reply_too_large()
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        event = http_api_event(
            self.command,
            parts.path,
            query=parts.query,
            headers={k: v for k, v in self.headers.items()},
            body=body,
            source_ip=self.client_address[0],
        )
        self._reply(self.server.handle_event(event, None))

    def _reply(self, answer: Mapping[str, Any]) -> None:
        text = answer.get("body") or ""
        payload = base64.b64decode(text) if answer.get("isBase64Encoded") else text.encode()
        self.send_response(int(answer.get("statusCode", 200)))
        for name, value in (answer.get("headers") or {}).items():
            if name.lower() != "content-length":
                self.send_header(name, str(value))
        for cookie in answer.get("cookies") or []:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _reply_too_large(self) -> None:
        body = b'{"error": {"code": "body_too_large", "message": "the body is too large"}}'
        self.send_response(413)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
