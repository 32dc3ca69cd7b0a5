"""Over real HTTP (the live API): a deployment's parameter schema and flow version, the 422
`invalid_parameters` check before a run is written, and batched task runs that keep the
engine's times (bounded by the server's clock and the flow run's creation)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from stratoflow.schemas import utcnow

SCHEMA: dict[str, Any] = {
    "title": "etl",
    "type": "object",
    "properties": {
        "steps": {"title": "Steps", "type": "integer"},
        "mode": {"default": "fast", "enum": ["fast", "full"], "type": "string"},
    },
    "required": ["steps"],
    "additionalProperties": False,
}


@pytest.fixture
def flow_id(http: httpx.Client) -> str:
    return str(http.post("/flows", json={"name": "etl"}).json()["id"])


def _deployment(flow_id: str, **fields: Any) -> dict[str, Any]:
    return {"flow_id": flow_id, "name": "nightly", "entrypoint": "flows/etl.py:etl", **fields}


def _error(answer: httpx.Response) -> dict[str, Any]:
    return dict(answer.json()["error"])


def test_deployment_stores_schema_and_version_and_runs_record_the_version(
    http: httpx.Client, flow_id: str
) -> None:
    body = _deployment(flow_id, parameter_schema=SCHEMA, flow_version="1.4", parameters={})
    deployment = http.post("/deployments", json=body).json()
    assert deployment["parameter_schema"] == SCHEMA
    assert deployment["flow_version"] == "1.4"
    run = http.post(f"/deployments/{deployment['id']}/runs", json={"parameters": {"steps": 3}})
    assert run.status_code == 201, run.text
    assert run.json()["flow_version"] == "1.4"


def test_run_parameters_are_checked_before_the_run_is_written(
    http: httpx.Client, flow_id: str
) -> None:
    deployment = http.post("/deployments", json=_deployment(flow_id, parameter_schema=SCHEMA))
    runs_url = f"/deployments/{deployment.json()['id']}/runs"
    bad = http.post(runs_url, json={"parameters": {"steps": "notanint"}})
    assert bad.status_code == 422
    assert _error(bad)["code"] == "invalid_parameters"
    assert "steps: expected integer" in _error(bad)["message"]
    missing = http.post(runs_url, json={"parameters": {"mode": "slow"}})
    assert _error(missing)["code"] == "invalid_parameters"
    assert "steps: required" in _error(missing)["message"]
    assert 'mode: expected one of "fast", "full"' in _error(missing)["message"]
    extra = http.post(runs_url, json={"parameters": {"steps": 1, "stepz": 1}})
    assert "stepz: unexpected parameter" in _error(extra)["message"]
    assert http.get("/flow-runs").json()["items"] == []


def test_deployment_defaults_are_checked_but_may_be_partial(
    http: httpx.Client, flow_id: str
) -> None:
    partial = http.post("/deployments", json=_deployment(flow_id, parameter_schema=SCHEMA))
    assert partial.status_code in (200, 201), partial.text
    body = _deployment(flow_id, name="bad", parameter_schema=SCHEMA, parameters={"steps": "x"})
    bad = http.post("/deployments", json=body)
    assert bad.status_code == 422
    assert _error(bad)["code"] == "invalid_parameters"
    schedule = {"schedule": {"type": "cron", "cron": "0 2 * * *"}, "parameters": {"mode": 1}}
    body = _deployment(flow_id, name="sched", parameter_schema=SCHEMA, schedules=[schedule])
    assert _error(http.post("/deployments", json=body))["code"] == "invalid_parameters"
    assert http.get("/flows/etl/deployments/bad").status_code == 404
    assert http.get("/flows/etl/deployments/sched").status_code == 404


def test_a_bad_or_oversized_schema_is_refused(http: httpx.Client, flow_id: str) -> None:
    not_object = http.post("/deployments", json=_deployment(flow_id, parameter_schema={"type": 1}))
    assert not_object.status_code == 422
    assert _error(not_object)["code"] == "invalid_parameter_schema"
    huge = {"type": "object", "description": "x" * (64 * 1024)}
    too_big = http.post("/deployments", json=_deployment(flow_id, parameter_schema=huge))
    assert too_big.status_code == 413
    assert _error(too_big)["code"] == "parameter_schema_too_large"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _flow_run(http: httpx.Client, flow_id: str) -> dict[str, Any]:
    run = http.post("/flow-runs", json={"flow_id": flow_id, "state": {"type": "RUNNING"}})
    assert run.status_code == 201, run.text
    return dict(run.json())


def _batch(http: httpx.Client, flow_run_id: str, states: list[dict[str, Any]]) -> dict[str, Any]:
    task_id = str(uuid.uuid4())
    item = {
        "task_run": {"id": task_id, "flow_run_id": flow_run_id, "task_key": "t", "name": "t-0"},
        "states": states,
    }
    answer = http.post("/task-runs/batch", json={"items": [item]})
    assert answer.status_code == 200, answer.text
    return dict(http.get(f"/task-runs/{task_id}").json())


def test_batched_task_runs_keep_the_engine_times(http: httpx.Client, flow_id: str) -> None:
    flow_run = _flow_run(http, flow_id)
    started = utcnow() + timedelta(seconds=1)
    ended = started + timedelta(milliseconds=1234)
    stored = _batch(http, flow_run["id"], [
        {"type": "RUNNING", "timestamp": _iso(started)},
        {"type": "COMPLETED", "timestamp": _iso(ended)},
    ])  # fmt: skip
    assert datetime.fromisoformat(stored["start_time"]) == started
    assert datetime.fromisoformat(stored["end_time"]) == ended
    assert datetime.fromisoformat(stored["state"]["timestamp"]) == ended


def test_batched_times_are_bounded(http: httpx.Client, flow_id: str) -> None:
    flow_run = _flow_run(http, flow_id)
    created = datetime.fromisoformat(flow_run["created"])
    before = utcnow()
    stored = _batch(http, flow_run["id"], [
        {"type": "RUNNING", "timestamp": _iso(created - timedelta(days=1))},
        {"type": "COMPLETED", "timestamp": _iso(utcnow() + timedelta(hours=1))},
    ])  # fmt: skip
    after = utcnow()
    start = datetime.fromisoformat(stored["start_time"])
    end = datetime.fromisoformat(stored["end_time"])
    # a day before the flow run: no earlier than it (nor than the run's Pending state)
    assert created <= start <= after
    assert before <= end <= after  # an hour ahead: the server's now
    assert start <= end
