"""A threaded HTTP server on 127.0.0.1 that routes JSON requests to a fake's methods.

Each fake (`kubernetes_api`, `vertex_api`) declares `ROUTES`: (method, regex over the path,
method name); a handler gets the path's named groups, the query and the JSON body and returns
(status, JSON). One lock serialises every request and every test hook, so a fake's state is
never seen half-changed.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Json = dict[str, Any]
Reply = tuple[int, Json]


class WireFake:
    """Base of the fakes: routing, a lock and a request log."""

    ROUTES: tuple[tuple[str, str, str], ...] = ()

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str, dict[str, str], Json | None]] = []
        self.headers: list[dict[str, str]] = []
        self._routes = [(m, re.compile(f"^{p}$"), name) for m, p, name in self.ROUTES]

    def authorize(self, headers: dict[str, str]) -> Reply | None:
        """A reply refusing the request, or None to serve it (override to check credentials)."""
        return None

    def dispatch(self, method: str, url: str, headers: dict[str, str], body: Json | None) -> Reply:
        """Route one request; 404 for a path no route matches."""
        parts = urlsplit(url)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((method, parts.path, query, body))
            self.headers.append(headers)
            refused = self.authorize(headers)
            if refused is not None:
                return refused
            for route_method, pattern, name in self._routes:
                match = pattern.match(parts.path)
                if route_method == method and match:
                    reply: Reply = getattr(self, name)(query=query, body=body, **match.groupdict())
                    return reply
        return 404, {"error": f"no route for {method} {parts.path}"}


def _handler(fake: WireFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type") or ""
            body: Any = None
            # The kubernetes client sends JSON without a Content-Type; google-auth's token
            # request is a form.
            if raw and "form-urlencoded" in content_type:
                body = {key: v[-1] for key, v in parse_qs(raw.decode()).items()}
            elif raw:
                body = json.loads(raw)
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, reply = fake.dispatch(self.command, self.path, headers, body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        # http.server's names for the per-method handlers.
        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest's output clean

    return Handler


@contextmanager
def serve(fake: WireFake) -> Iterator[str]:
    """Serve `fake` on a free port of 127.0.0.1; yields its base URL (`http://127.0.0.1:N`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
