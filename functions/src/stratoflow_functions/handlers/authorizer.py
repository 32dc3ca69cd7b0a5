"""Lambda authorizer for API keys (HTTP API, simple responses): API Gateway caches the answer,
so most requests never reach the table."""

from __future__ import annotations

from typing import Any

from stratoflow_functions.config import load_settings
from stratoflow_functions.errors import UnauthorizedError
from stratoflow_functions.services.api_keys import authenticate_key
from stratoflow_functions.store import Store, build_store

_store: Store | None = None


def authorize(store: Store, event: dict[str, Any]) -> dict[str, Any]:
    """Allow a live key, with its id and scope in the context the API handler reads."""
    header = (event.get("headers") or {}).get("authorization", "")
    scheme, _, token = str(header).partition(" ")
    if scheme.lower() != "bearer":
        return {"isAuthorized": False}
    try:
        key = authenticate_key(store, token.strip())
    except UnauthorizedError:
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": {"key_id": str(key.id), "scope": key.scope.value}}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point."""
    global _store  # built lazily once per execution environment
    if _store is None:
        _store = build_store(load_settings())
    return authorize(_store, event)
