"""Over real HTTP (the live API): a claim's `due_before` (an agent's prefetch window) takes runs
due within it, early, to PENDING with their expected start kept; not runs due later, and not
more than 60 s ahead of the server's clock (422 `invalid_due_before`, nothing claimed)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from stratoflow.schemas import utcnow

QUEUE = "ahead"


@pytest.fixture
def deployment_id(http: httpx.Client) -> str:
    flow_id = http.post("/flows", json={"name": "etl"}).json()["id"]
    body = {"flow_id": flow_id, "name": "d", "entrypoint": "f.py:f", "work_queue": QUEUE}
    return str(http.post("/deployments", json=body).json()["id"])


def _run_due(http: httpx.Client, deployment_id: str, start: datetime) -> dict[str, Any]:
    body = {"scheduled_start_time": start.isoformat()}
    answer = http.post(f"/deployments/{deployment_id}/runs", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _claim(http: httpx.Client, due_before: datetime | None) -> httpx.Response:
    body: dict[str, Any] = {"agent_id": str(uuid.uuid4()), "limit": 10}
    if due_before is not None:
        body["due_before"] = due_before.isoformat()
    return http.post(f"/work-queues/{QUEUE}/claim", json=body)


def _claimed_ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [r["flow_run"]["id"] for r in answer.json()["runs"]]


def test_the_claim_with_due_before_returns_a_run_due_in_5_s_and_not_one_due_in_2_min(
    http: httpx.Client, deployment_id: str
) -> None:
    soon = _run_due(http, deployment_id, utcnow() + timedelta(seconds=5))
    _run_due(http, deployment_id, utcnow() + timedelta(minutes=2))

    answer = _claim(http, utcnow() + timedelta(seconds=10))

    assert _claimed_ids(answer) == [soon["id"]]
    run = answer.json()["runs"][0]["flow_run"]
    assert run["state"]["type"] == "PENDING"
    assert run["expected_start_time"] == soon["expected_start_time"]  # its process waits for it


def test_a_claim_without_due_before_takes_no_run_before_its_time(
    http: httpx.Client, deployment_id: str
) -> None:
    _run_due(http, deployment_id, utcnow() + timedelta(seconds=30))

    assert _claimed_ids(_claim(http, None)) == []
    assert _claimed_ids(_claim(http, utcnow() - timedelta(seconds=5))) == []


def test_due_before_over_60_s_ahead_is_invalid_due_before_and_claims_nothing(
    http: httpx.Client, deployment_id: str
) -> None:
    run = _run_due(http, deployment_id, utcnow() + timedelta(seconds=5))

    answer = _claim(http, utcnow() + timedelta(seconds=90))

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_due_before"
    assert http.get(f"/flow-runs/{run['id']}").json()["state"]["type"] == "SCHEDULED"
