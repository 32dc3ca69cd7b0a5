"""Test helpers shared across suites (not fixtures: plain code)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from stratoflow_functions.api import ApiApp
from stratoflow_functions.local import http_api_event
from stratoflow_functions.local.moto_atomic import make_moto_dynamodb_atomic

__all__ = ["Answer", "ApiCaller", "FakeClock", "make_moto_dynamodb_atomic"]


@dataclass
class FakeClock:
    """A clock the tests move by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class Answer:
    """What the API answered."""

    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> str | None:
        """The error code, for error answers."""
        if isinstance(self.body, dict) and "error" in self.body:
            return str(self.body["error"]["code"])
        return None


class ApiCaller:
    """Calls the API handler with real HTTP API (payload v2) events."""

    def __init__(self, app: ApiApp, key: str | None = None) -> None:
        self.app = app
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        key: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        request_context: dict[str, Any] | None = None,
    ) -> Answer:
        all_headers = {"content-type": "application/json", **(headers or {})}
        token = key if key is not None else self.key
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (None if body is None else _encode(body))
        event = http_api_event(
            method,
            path,
            query=urlencode({k: v for k, v in (query or {}).items() if v is not None}),
            headers=all_headers,
            body=payload,
        )
        if request_context:
            event["requestContext"].update(request_context)
        result = self.app.handle(event, None)
        text = result.get("body") or ""
        return Answer(
            status=result["statusCode"],
            body=json.loads(text) if text else None,
            headers=result.get("headers") or {},
        )

    def get(self, path: str, **kw: Any) -> Answer:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.call("POST", path, body if body is not None else {}, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.call("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Answer:
        return self.call("DELETE", path, **kw)


def _encode(body: Any) -> bytes:
    return json.dumps(body, default=str).encode()


def in_process_api(table_name: str) -> tuple[ApiApp, str]:
    """A fresh table (inside an active `mock_aws`), the real API over it, and an admin key."""
    from stratoflow.schemas import ApiKeyCreate, ApiKeyScope, utcnow
    from stratoflow_functions.api import ApiDeps
    from stratoflow_functions.config import Settings
    from stratoflow_functions.services.api_keys import create_api_key
    from stratoflow_functions.store import build_store, create_table

    settings = Settings(table_name=table_name)
    create_table(settings)
    store = build_store(settings)
    key = create_api_key(store, ApiKeyCreate(name="admin", scope=ApiKeyScope.ADMIN), utcnow())
    return ApiApp(ApiDeps(store=store, settings=settings, clock=utcnow)), key.key
