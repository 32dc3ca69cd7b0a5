"""Lambda entry point of the HTTP API: built once per cold start, then one call per request."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from stratoflow_functions.api import ApiApp, ApiDeps
from stratoflow_functions.config import load_settings
from stratoflow_functions.store import build_store

logger = Logger()
_app: ApiApp | None = None


def build_app() -> ApiApp:
    """The API wired to the table and buckets named by the environment."""
    settings = load_settings()
    return ApiApp(ApiDeps(store=build_store(settings), settings=settings))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Serve one API Gateway HTTP API (payload v2) request."""
    global _app  # built lazily once per execution environment
    if _app is None:
        _app = build_app()
    return _app.handle(event, context)
