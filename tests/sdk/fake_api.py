"""A stand-in for the Stratoflow HTTP API, backed by the SDK's in-memory `LocalOrchestrator`.

It routes the requests the engine and the CLI make, with real status codes and `ErrorBody`
errors, so tests exercise the real client over `httpx.MockTransport` (or, via `serve()`, over
a socket for subprocess tests). It will be replaced by the real API handler's transport.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import httpx
from pydantic import BaseModel, TypeAdapter

from stratoflow.runtime.local import LocalOrchestrator, UnknownRunError
from stratoflow.schemas import (
    Deployment,
    FlowCreate,
    FlowRunCreate,
    FlowRunHeartbeat,
    LogCreate,
    Page,
    StateProposal,
    TaskRunBatch,
    TaskRunCreate,
)

API_KEY = "sf_test_key"
Handler = Callable[[re.Match[str], httpx.Request], httpx.Response]


def _json(model: BaseModel | list[Any] | dict[str, Any], status: int = 200) -> httpx.Response:
    if isinstance(model, BaseModel):
        return httpx.Response(status, content=model.model_dump_json(), headers=_CT)
    return httpx.Response(status, json=model)


_CT = {"Content-Type": "application/json"}


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


class FakeApi:
    """The routes the SDK uses, answering from a `LocalOrchestrator`."""

    def __init__(self) -> None:
        self.store = LocalOrchestrator()
        self.deployments: dict[UUID, Deployment] = {}
        self.calls: Counter[str] = Counter()
        self.fail_next: list[int] = []
        """Statuses to answer the next requests with, before handling any (503, 429...)."""
        self._lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/health"), lambda m, r: _json({"status": "ok", "version": "t"})),
            ("POST", re.compile(r"/flows"), self._create_flow),
            ("GET", re.compile(r"/flows"), self._list_flows),
            ("POST", re.compile(r"/flow-runs"), self._create_flow_run),
            ("GET", re.compile(r"/flow-runs"), self._list_flow_runs),
            ("GET", re.compile(r"/flow-runs/(?P<id>[^/]+)"), self._read_flow_run),
            ("POST", re.compile(r"/flow-runs/(?P<id>[^/]+)/state"), self._set_flow_state),
            ("POST", re.compile(r"/flow-runs/(?P<id>[^/]+)/heartbeat"), self._heartbeat),
            ("POST", re.compile(r"/flow-runs/(?P<id>[^/]+)/cancel"), self._cancel),
            ("GET", re.compile(r"/flow-runs/(?P<id>[^/]+)/task-runs"), self._list_task_runs),
            ("GET", re.compile(r"/flow-runs/(?P<id>[^/]+)/logs"), self._list_logs),
            ("POST", re.compile(r"/task-runs"), self._create_task_run),
            ("POST", re.compile(r"/task-runs/batch"), self._batch),
            ("POST", re.compile(r"/task-runs/(?P<id>[^/]+)/state"), self._set_task_state),
            ("POST", re.compile(r"/logs"), self._write_logs),
            ("GET", re.compile(r"/deployments/(?P<id>[^/]+)"), self._read_deployment),
        ]

    def transport(self) -> httpx.MockTransport:
        """An httpx transport answering from this fake."""
        return httpx.MockTransport(self)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.calls[f"{request.method} {_route_name(request.url.path)}"] += 1
            if self.fail_next:
                return _error(self.fail_next.pop(0), "injected", "injected failure")
        if (
            request.url.path != "/health"
            and request.headers.get("Authorization") != f"Bearer {API_KEY}"
        ):
            return _error(401, "unauthorized", "missing or unknown API key")
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.url.path)
            if match and method == request.method:
                try:
                    return handler(match, request)
                except (UnknownRunError, KeyError) as exc:
                    return _error(404, "not_found", str(exc))
        return _error(404, "not_found", f"no route {request.method} {request.url.path}")

    # --- handlers -----------------------------------------------------------------------------

    def _create_flow(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        return _json(self.store.create_flow(FlowCreate.model_validate_json(r.content)), 201)

    def _list_flows(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        return _json(Page(items=list(self.store.flows.values())))

    def _create_flow_run(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        return _json(self.store.create_flow_run(FlowRunCreate.model_validate_json(r.content)), 201)

    def _list_flow_runs(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        runs = sorted(self.store.flow_runs.values(), key=lambda run: run.created, reverse=True)
        state = r.url.params.get("state")
        runs = [run for run in runs if state is None or run.state.type == state]
        flow_id = r.url.params.get("flow_id")
        runs = [run for run in runs if flow_id is None or str(run.flow_id) == flow_id]
        return _json(Page(items=runs[: int(r.url.params.get("limit", 50))]))

    def _read_flow_run(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        return _json(self.store.read_flow_run(UUID(m["id"])))

    def _set_flow_state(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        proposal = StateProposal.model_validate_json(r.content)
        return _json(self.store.set_flow_run_state(UUID(m["id"]), proposal))

    def _heartbeat(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        body = FlowRunHeartbeat.model_validate_json(r.content or b"{}")
        return _json(self.store.heartbeat_flow_run(UUID(m["id"]), body))

    def _cancel(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        return _json(self.store.cancel_flow_run(UUID(m["id"])))

    def _list_task_runs(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        runs = [t for t in self.store.task_runs.values() if str(t.flow_run_id) == m["id"]]
        return _json(Page(items=runs))

    def _list_logs(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        lines = [line for line in self.store.logs if str(line.flow_run_id) == m["id"]]
        return _json(
            Page(items=[{**line.model_dump(mode="json"), "seq": i} for i, line in enumerate(lines)])
        )

    def _create_task_run(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        return _json(self.store.create_task_run(TaskRunCreate.model_validate_json(r.content)), 201)

    def _batch(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        return _json(self.store.create_task_runs_batch(TaskRunBatch.model_validate_json(r.content)))

    def _set_task_state(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        proposal = StateProposal.model_validate_json(r.content)
        return _json(self.store.set_task_run_state(UUID(m["id"]), proposal))

    def _write_logs(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        lines = TypeAdapter(list[LogCreate]).validate_json(r.content)
        return _json(self.store.write_logs(lines), 201)

    def _read_deployment(self, m: re.Match[str], r: httpx.Request) -> httpx.Response:
        return _json(self.deployments[UUID(m["id"])])


def _route_name(path: str) -> str:
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{id}", path)


@contextmanager
def serve(api: FakeApi) -> Iterator[str]:
    """Serve `api` over HTTP on 127.0.0.1 (for subprocess tests); yields the base URL."""

    class _Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = httpx.Request(
                self.command, f"http://fake{self.path}", headers=dict(self.headers),
                content=self.rfile.read(length),
            )  # fmt: skip
            response = api(request)
            body = response.read()
            self.send_response(response.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server names

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def body_json(request: httpx.Request) -> Any:
    """The JSON body of a request."""
    return json.loads(request.content)
