"""What each operation answers, for the OpenAPI document: its success statuses and every error
status it can give, each error with the one error body (`ErrorBody`), so a generated client parses
errors as well as results.

Routes pass `answers(...)` as `responses=`; without it powertools would document only the success
status and a 422 with a FastAPI-style body the API never sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from stratoflow.schemas import ErrorBody

ERROR_DESCRIPTIONS = {
    400: "The request cannot be read: a body that is not UTF-8 or not JSON, JSON nested too "
    "deeply, a bad `next_token` (`invalid_json`, `invalid_encoding`, `json_too_deep`, …)",
    401: "No caller, or an unknown or revoked API key",
    403: "The caller lacks the scope (managing API keys needs an admin)",
    404: "No such resource",
    409: "A conflict: the resource changed (`version_conflict`) or exists already",
    413: "The body, or a field of it, is over its size limit",
    415: "The body is not `application/json`",
    422: "A value is not valid (`validation_error` with `details`, `invalid_unicode`, …)",
    429: "Too many requests, or the database throttled us: retry with backoff",
}
COMMON_ERRORS = (400, 401, 413, 415, 422, 429)
"""What any operation can answer: its body, its caller and its values are checked everywhere,
and every route reads the database."""

SUCCESS_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "Done; no content",
}


def answers(*statuses: int) -> dict[int, OpenAPIResponse]:
    """The `responses=` of a route: `statuses` (successes and extra errors, e.g. `201, 404`)
    plus the errors every operation can give."""
    return _responses((*statuses, *COMMON_ERRORS))


def created_answers(*errors: int) -> dict[int, OpenAPIResponse]:
    """An idempotent create: 201 when this call created it, 200 when it existed already."""
    responses = answers(201, 200, *errors)
    responses[200] = {"description": "It existed already (same key): the existing resource"}
    return responses


def open_answers(*statuses: int) -> dict[int, OpenAPIResponse]:
    """An operation that needs no caller and reads no database (`/health`)."""
    return _responses((*statuses, 400, 413, 415, 422))


def _responses(statuses: tuple[int, ...]) -> dict[int, OpenAPIResponse]:
    return {status: _response(status) for status in sorted(set(statuses))}


def _response(status: int) -> OpenAPIResponse:
    if status == 204:
        return {"description": SUCCESS_DESCRIPTIONS[204], "content": {}}
    if status < 300:
        # No content given: powertools documents the route's return model.
        return {"description": SUCCESS_DESCRIPTIONS.get(status, "OK")}
    return {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"model": ErrorBody}},
    }


def prune_unused_schemas(document: str) -> str:
    """`document` without component schemas nothing refers to (powertools always adds its own
    validation-error models, which this API never answers with)."""
    spec = json.loads(document)
    schemas = spec.get("components", {}).get("schemas", {})
    used = _referenced(spec.get("paths", {}), schemas)
    spec["components"]["schemas"] = {name: s for name, s in schemas.items() if name in used}
    return json.dumps(spec)


def _referenced(root: Any, schemas: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    pending = list(_refs(root))
    while pending:
        name = pending.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            pending.extend(_refs(schemas[name]))
    return seen


def _refs(node: Any) -> Iterator[str]:
    prefix = "#/components/schemas/"
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            ref = current.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                yield ref[len(prefix) :]
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
