"""Helpers of the SDK tests: observing what the engine and the client send, without replacing
anything they talk to (each wraps the real thing and passes every call on)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any
from uuid import UUID

import httpx

from stratoflow.schemas import OrchestrationResult, TaskRun

FAST_WAITS = 0.01
"""The offline orchestrator's `wait_scale` in tests: the kernel's 5 s tag-slot WAIT is
answered as 50 ms (a WAIT writes nothing, so only the pacing changes)."""


def route_of(path: str) -> str:
    """A request path with its ids replaced by `{id}`."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{id}", path)


class CountingTransport(httpx.BaseTransport):
    """Real HTTP (httpx's own transport), counting requests by route; the statuses queued in
    `fail_next` answer the next requests instead, before they reach the API (503s, 429s)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.calls: Counter[str] = Counter()
        self.fail_next: list[int] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.calls[f"{request.method} {route_of(request.url.path)}"] += 1
            status = self.fail_next.pop(0) if self.fail_next else None
        if status is not None:
            error = {"error": {"code": "injected", "message": "injected failure"}}
            return httpx.Response(status, json=error, request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class CountingOrchestrator:
    """Passes every call to `inner`, counting calls by method and answers by status."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if not callable(method):
            return method

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            with self._lock:
                self.calls[name] += 1
                if isinstance(result, OrchestrationResult):
                    self.answers[result.status] += 1
            return result

        return counted


def all_task_runs(client: Any, flow_run_id: UUID) -> list[TaskRun]:
    """Every task run of a flow run, read page by page from the API."""
    runs: list[TaskRun] = []
    token: str | None = None
    while True:
        page = client.list_task_runs(flow_run_id, limit=200, next_token=token)
        runs.extend(page.items)
        token = page.next_token
        if token is None:
            return runs
