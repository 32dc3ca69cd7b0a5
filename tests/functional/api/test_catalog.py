"""Flows and deployments: idempotent registration, upserts, pause/resume, delete, runs."""

from __future__ import annotations

from tests.support import ApiCaller


def test_registering_a_flow_twice_returns_the_same_flow(api: ApiCaller) -> None:
    first = api.post("/flows", {"name": "etl"})
    second = api.post("/flows", {"name": "etl"})
    assert first.status == 201
    assert second.status == 200
    assert first.body["id"] == second.body["id"]
    assert api.get(f"/flows/{first.body['id']}").body["name"] == "etl"


def test_flows_paginate_with_next_token(api: ApiCaller) -> None:
    for index in range(5):
        api.post("/flows", {"name": f"flow-{index}"})
    seen: list[str] = []
    token = None
    while True:
        page = api.get("/flows", query={"limit": 2, "next_token": token}).body
        assert len(page["items"]) <= 2
        seen += [flow["name"] for flow in page["items"]]
        token = page["next_token"]
        if token is None:
            break
    assert sorted(seen) == [f"flow-{index}" for index in range(5)]


def test_deploying_again_updates_in_place(api: ApiCaller, flow_id: str) -> None:
    body = {"flow_id": flow_id, "name": "nightly", "entrypoint": "etl.py:etl"}
    first = api.post("/deployments", body)
    second = api.post("/deployments", {**body, "parameters": {"day": "2024-01-01"}})
    assert (first.status, second.status) == (201, 200)
    assert first.body["id"] == second.body["id"]
    assert second.body["parameters"] == {"day": "2024-01-01"}
    assert second.body["created"] == first.body["created"]


def test_deployment_by_flow_and_name(api: ApiCaller, deployment_id: str) -> None:
    answer = api.get("/deployments/by-name/etl/nightly")
    assert answer.status == 200
    assert answer.body["id"] == deployment_id
    assert api.get("/deployments/by-name/etl/other").status == 404


def test_deployment_with_unknown_flow_is_a_404(api: ApiCaller) -> None:
    body = {
        "flow_id": "00000000-0000-4000-8000-000000000000",
        "name": "x",
        "entrypoint": "a.py:f",
    }
    assert api.post("/deployments", body).status == 404


def test_bad_cron_is_a_422_naming_the_problem(api: ApiCaller, flow_id: str) -> None:
    schedule = {"schedule": {"type": "cron", "cron": "99 99 * * * *"}}
    body = {"flow_id": flow_id, "name": "n", "entrypoint": "a.py:f", "schedules": [schedule]}
    answer = api.post("/deployments", body)
    assert answer.status == 422
    assert answer.code == "invalid_schedule"


def test_bad_timezone_is_a_422(api: ApiCaller, flow_id: str) -> None:
    schedule = {"schedule": {"type": "cron", "cron": "0 2 * * *", "timezone": "Mars/Olympus"}}
    body = {"flow_id": flow_id, "name": "n", "entrypoint": "a.py:f", "schedules": [schedule]}
    assert api.post("/deployments", body).status == 422


def test_pause_resume_and_delete(api: ApiCaller, deployment_id: str) -> None:
    assert api.post(f"/deployments/{deployment_id}/pause").body["paused"] is True
    assert api.post(f"/deployments/{deployment_id}/resume").body["paused"] is False
    assert api.delete(f"/deployments/{deployment_id}").status == 204
    assert api.get(f"/deployments/{deployment_id}").status == 404


def test_running_a_deployment_schedules_a_run_with_merged_parameters(
    api: ApiCaller, flow_id: str
) -> None:
    body = {
        "flow_id": flow_id,
        "name": "nightly",
        "entrypoint": "etl.py:etl",
        "parameters": {"day": "default", "dry_run": False},
        "work_queue": "gpu",
    }
    deployment = api.post("/deployments", body).body
    answer = api.post(f"/deployments/{deployment['id']}/runs", {"parameters": {"dry_run": True}})
    assert answer.status == 201
    run = answer.body
    assert run["state"]["type"] == "SCHEDULED"
    assert run["parameters"] == {"day": "default", "dry_run": True}
    assert run["deployment_id"] == deployment["id"]
    assert run["work_queue"] == "gpu"
    listed = api.get("/flow-runs", query={"deployment_id": deployment["id"]}).body["items"]
    assert [item["id"] for item in listed] == [run["id"]]


def test_list_deployments_filtered_by_flow(api: ApiCaller, deployment_id: str) -> None:
    other = api.post("/flows", {"name": "other"}).body["id"]
    api.post("/deployments", {"flow_id": other, "name": "d", "entrypoint": "a.py:f"})
    flow_id = api.get(f"/deployments/{deployment_id}").body["flow_id"]
    items = api.get("/deployments", query={"flow_id": flow_id}).body["items"]
    assert [item["id"] for item in items] == [deployment_id]
    assert len(api.get("/deployments").body["items"]) == 2
