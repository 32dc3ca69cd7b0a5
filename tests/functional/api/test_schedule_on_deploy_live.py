"""Over real HTTP (the live API): creating, updating or resuming a deployment with a schedule
creates its next few runs before the API answers (the scheduler's step for that deployment),
with the tick's idempotency keys, so a tick afterwards creates none of them again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from stratoflow.schemas import utcnow
from stratoflow_functions.services.towel import schedule_runs
from tests.fixtures.live_api import LiveApi


@pytest.fixture
def flow_id(http: httpx.Client) -> str:
    return str(http.post("/flows", json={"name": "etl"}).json()["id"])


def _every(seconds: int) -> dict[str, Any]:
    return {"schedule": {"type": "interval", "interval_seconds": seconds}}


def _deploy(http: httpx.Client, flow_id: str, **fields: Any) -> dict[str, Any]:
    body = {"flow_id": flow_id, "name": "nightly", "entrypoint": "flows/etl.py:etl", **fields}
    answer = http.post("/deployments", json=body)
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


def _runs(http: httpx.Client, deployment_id: str) -> list[dict[str, Any]]:
    answer = http.get("/flow-runs", params={"deployment_id": deployment_id, "limit": 200})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def _starts(runs: list[dict[str, Any]]) -> list[datetime]:
    return sorted(datetime.fromisoformat(r["expected_start_time"]) for r in runs)


def test_runs_exist_right_after_the_create_answer(http: httpx.Client, flow_id: str) -> None:
    before = utcnow()
    deployment = _deploy(http, flow_id, schedules=[_every(10)])

    runs = _runs(http, deployment["id"])  # no waiting: they were made before the answer

    assert runs, "no scheduled run right after the create answer"
    assert {r["state"]["type"] for r in runs} == {"SCHEDULED"}
    starts = _starts(runs)
    assert starts[0] >= before
    assert (starts[0] - before).total_seconds() <= 11  # the first is the next 10 s slot
    assert all(r["idempotency_key"].startswith(f"scheduled:{deployment['id']}:") for r in runs)


def test_the_tick_after_a_create_makes_none_of_those_runs_again(
    live_api: LiveApi, http: httpx.Client, flow_id: str
) -> None:
    deployment = _deploy(http, flow_id, schedules=[_every(3600)])
    made = _runs(http, deployment["id"])

    report = schedule_runs(live_api.store, live_api.settings, utcnow())

    after = _runs(http, deployment["id"])
    keys = [r["idempotency_key"] for r in after]
    # the create made the next few (bounded work); the tick adds the rest of the horizon
    assert len(made) == live_api.settings.scheduler_min_runs
    assert {r["id"] for r in made} <= {r["id"] for r in after}
    assert len(after) == len(made) + report.runs_created
    assert len(set(keys)) == len(keys)


def test_an_update_adding_a_schedule_creates_its_runs_at_once(
    http: httpx.Client, flow_id: str
) -> None:
    deployment = _deploy(http, flow_id)
    assert _runs(http, deployment["id"]) == []

    _deploy(http, flow_id, schedules=[_every(60)])

    assert _runs(http, deployment["id"])


def test_resume_creates_the_next_runs_at_once(http: httpx.Client, flow_id: str) -> None:
    deployment = _deploy(http, flow_id, paused=True, schedules=[_every(60)])
    assert _runs(http, deployment["id"]) == []

    answer = http.post(f"/deployments/{deployment['id']}/resume")

    assert answer.status_code == 200, answer.text
    runs = _runs(http, deployment["id"])
    assert runs
    assert {r["state"]["type"] for r in runs} == {"SCHEDULED"}


def test_a_deployment_without_schedules_gets_no_run(http: httpx.Client, flow_id: str) -> None:
    deployment = _deploy(http, flow_id)

    assert _runs(http, deployment["id"]) == []
