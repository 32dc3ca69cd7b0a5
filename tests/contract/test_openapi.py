"""The OpenAPI document: valid, complete, and changed only on purpose (snapshot)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from stratoflow_functions.api import ApiDeps, build_resolver, openapi_document
from stratoflow_functions.config import Settings
from stratoflow_functions.store import build_store

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"

SPEC_ROUTES = {
    ("/flows", "post"), ("/flows", "get"), ("/flows/{flow_id}", "get"),
    ("/deployments", "post"), ("/deployments", "get"),
    ("/deployments/{deployment_id}", "get"), ("/deployments/{deployment_id}", "delete"),
    ("/deployments/{deployment_id}/runs", "post"),
    ("/deployments/{deployment_id}/pause", "post"),
    ("/deployments/{deployment_id}/resume", "post"),
    ("/flow-runs", "post"), ("/flow-runs", "get"), ("/flow-runs/{run_id}", "get"),
    ("/flow-runs/{run_id}/state", "post"), ("/flow-runs/{run_id}/heartbeat", "post"),
    ("/flow-runs/{run_id}/cancel", "post"), ("/flow-runs/{run_id}/task-runs", "get"),
    ("/flow-runs/{run_id}/logs", "get"),
    ("/task-runs", "post"), ("/task-runs/{task_run_id}/state", "post"), ("/logs", "post"),
    ("/work-queues/{name}/claim", "post"), ("/agents/{agent_id}/heartbeat", "post"),
    ("/concurrency-limits/{tag}", "put"), ("/api-keys", "post"), ("/api-keys", "get"),
    ("/api-keys/{key_id}", "delete"), ("/health", "get"),
}  # fmt: skip


@pytest.fixture(scope="module")
def document() -> dict:
    settings = Settings(table_name="openapi-only")
    resolver = build_resolver(ApiDeps(store=build_store(settings), settings=settings))
    return json.loads(openapi_document(resolver))


def test_document_is_valid_openapi(document: dict) -> None:
    validate(document)


def test_document_has_every_spec_route(document: dict) -> None:
    present = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert SPEC_ROUTES - present == set()


def test_every_route_but_health_requires_the_bearer_scheme(document: dict) -> None:
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["paths"]["/health"]["get"]["security"] == [{}]
    secured = [
        op for path, ops in document["paths"].items() if path != "/health" for op in ops.values()
    ]
    assert all(op.get("security", document["security"]) for op in secured)


def test_document_matches_snapshot(document: dict) -> None:
    rendered = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.exists(), "no snapshot yet: UPDATE_SNAPSHOTS=1 make test writes it"
    assert SNAPSHOT.read_text() == rendered, (
        "the API changed: review, then UPDATE_SNAPSHOTS=1 make test to accept"
    )


def test_openapi_route_serves_the_document(aws: None) -> None:
    from tests.support import ApiCaller, in_process_api

    answer = ApiCaller(*in_process_api("openapi-route")).get("/openapi.json")
    assert answer.status == 200
    assert answer.body["info"]["title"] == "Stratoflow API"
