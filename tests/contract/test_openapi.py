"""The OpenAPI document: valid, complete, and changed only on purpose (snapshot)."""

from __future__ import annotations

import json
import os
import re
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


def _operations(document: dict):
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            yield f"{method.upper()} {path}", op


def test_every_operation_has_a_readable_unique_operation_id(document: dict) -> None:
    ids = {label: op.get("operationId", "") for label, op in _operations(document)}
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", op_id) for op_id in ids.values()), ids
    assert len(set(ids.values())) == len(ids)
    assert ids["POST /flow-runs/{run_id}/state"] == "proposeFlowRunState"


ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def _error_statuses(op: dict) -> set[int]:
    return {int(status) for status in op["responses"] if int(status) >= 400}


def test_every_error_answer_is_documented_with_the_error_body(document: dict) -> None:
    for label, op in _operations(document):
        for status in _error_statuses(op):
            content = op["responses"][str(status)]["content"]
            assert content == {"application/json": {"schema": ERROR_BODY}}, (label, status)
        common = {400, 413, 415, 422} | (set() if label == "GET /health" else {401, 429})
        assert common <= _error_statuses(op), label
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize(
    ("label", "statuses"),
    [
        ("GET /flows/{flow_id}", {404}),
        ("POST /flow-runs/{run_id}/state", {404, 409}),
        ("POST /api-keys", {403}),
        ("DELETE /api-keys/{key_id}", {403, 404}),
    ],
)
def test_operations_document_their_own_errors(document: dict, label: str, statuses: set) -> None:
    assert statuses <= _error_statuses(dict(_operations(document))[label])


def test_idempotent_creates_document_200_and_201(document: dict) -> None:
    for path in ("/flows", "/deployments", "/flow-runs", "/task-runs"):
        responses = document["paths"][path]["post"]["responses"]
        assert responses["200"]["content"] == responses["201"]["content"], path


def test_no_content_answers_have_no_content_type(document: dict, aws: None) -> None:
    no_content = [
        op["responses"]["204"] for _, op in _operations(document) if "204" in op["responses"]
    ]
    assert len(no_content) == 2
    assert all(not answer.get("content") for answer in no_content)
    from tests.support import ApiCaller, in_process_api

    api = ApiCaller(*in_process_api("openapi-204"))
    api.put("/concurrency-limits/db", {"limit": 1})
    answer = api.delete("/concurrency-limits/db")
    assert (answer.status, answer.body) == (204, None)
    assert "Content-Type" not in answer.headers


def test_real_error_answers_match_the_documented_error_body(document: dict, aws: None) -> None:
    from jsonschema import Draft202012Validator

    from tests.support import ApiCaller, in_process_api

    api = ApiCaller(*in_process_api("openapi-errors"))
    answers = [
        api.get("/flows/00000000-0000-4000-8000-000000000000"),
        api.post("/flows", {"name": ""}),
        api.call("POST", "/flows", raw=b"{"),
        api.call("POST", "/flows", raw=b"x", headers={"content-type": "text/plain"}),
        api.get("/flows", key="sf_unknown"),
    ]
    assert [a.status for a in answers] == [404, 422, 400, 415, 401]
    schema = {"$ref": "#/components/schemas/ErrorBody", "components": document["components"]}
    validator = Draft202012Validator(schema)
    for answer in answers:
        assert list(validator.iter_errors(answer.body)) == [], answer.body


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
