"""Task runs: the parent must be running, tag limits, caching, batches, and logs."""

from __future__ import annotations

import uuid

import pytest

from tests.support import ApiCaller


@pytest.fixture
def flow_run(api: ApiCaller, flow_id: str) -> str:
    run_id = api.post("/flow-runs", {"flow_id": flow_id}).body["id"]
    api.post(f"/flow-runs/{run_id}/state", {"state": {"type": "RUNNING"}})
    return str(run_id)


def _task(api: ApiCaller, flow_run: str, **extra) -> dict:
    body = {"flow_run_id": flow_run, "task_key": "extract", "name": "extract-0", **extra}
    answer = api.post("/task-runs", body)
    assert answer.status in (200, 201)
    return answer.body


def _propose(api: ApiCaller, task_id: str, state: dict):
    return api.post(f"/task-runs/{task_id}/state", {"state": state})


def test_task_run_lifecycle(api: ApiCaller, flow_run: str) -> None:
    task = _task(api, flow_run)
    assert task["state"]["type"] == "PENDING"
    assert _propose(api, task["id"], {"type": "RUNNING"}).body["status"] == "ACCEPT"
    assert _propose(api, task["id"], {"type": "COMPLETED"}).body["version"] == 2
    listed = api.get(f"/flow-runs/{flow_run}/task-runs").body["items"]
    assert [item["id"] for item in listed] == [task["id"]]
    assert listed[0]["state"]["type"] == "COMPLETED"


def test_client_chosen_id_makes_create_idempotent(api: ApiCaller, flow_run: str) -> None:
    task_id = str(uuid.uuid4())
    first = api.post(
        "/task-runs", {"id": task_id, "flow_run_id": flow_run, "task_key": "t", "name": "t"}
    )
    again = api.post(
        "/task-runs", {"id": task_id, "flow_run_id": flow_run, "task_key": "t", "name": "t"}
    )
    assert (first.status, again.status) == (201, 200)
    assert first.body["id"] == again.body["id"] == task_id


def test_task_of_unknown_flow_run_is_a_404(api: ApiCaller) -> None:
    body = {"flow_run_id": str(uuid.uuid4()), "task_key": "t", "name": "t"}
    assert api.post("/task-runs", body).status == 404


def test_task_cannot_start_when_flow_is_cancelling(api: ApiCaller, flow_run: str) -> None:
    task = _task(api, flow_run)
    api.post(f"/flow-runs/{flow_run}/cancel")
    answer = _propose(api, task["id"], {"type": "RUNNING"})
    assert answer.body["status"] == "ABORT"
    assert api.get(f"/task-runs/{task['id']}").body["state"]["type"] == "PENDING"


def test_task_waits_while_flow_is_not_running(api: ApiCaller, flow_id: str) -> None:
    run_id = api.post("/flow-runs", {"flow_id": flow_id}).body["id"]
    task = _task(api, run_id)
    answer = _propose(api, task["id"], {"type": "RUNNING"})
    assert answer.body["status"] == "WAIT"
    assert answer.body["delay_seconds"] > 0


def test_tag_concurrency_limit_makes_the_second_task_wait(api: ApiCaller, flow_run: str) -> None:
    assert api.put("/concurrency-limits/warehouse", {"limit": 1}).status == 200
    first = _task(api, flow_run, tags=["warehouse"])
    second = _task(api, flow_run, tags=["warehouse"], name="extract-1", dynamic_key="1")
    assert _propose(api, first["id"], {"type": "RUNNING"}).body["status"] == "ACCEPT"
    assert api.get("/concurrency-limits/warehouse").body["active_slots"] == [first["id"]]
    assert _propose(api, second["id"], {"type": "RUNNING"}).body["status"] == "WAIT"
    _propose(api, first["id"], {"type": "COMPLETED"})
    assert api.get("/concurrency-limits/warehouse").body["active_slots"] == []
    assert _propose(api, second["id"], {"type": "RUNNING"}).body["status"] == "ACCEPT"


def test_concurrency_limits_crud(api: ApiCaller) -> None:
    api.put("/concurrency-limits/db", {"limit": 3})
    assert [item["tag"] for item in api.get("/concurrency-limits").body["items"]] == ["db"]
    assert api.delete("/concurrency-limits/db").status == 204
    assert api.get("/concurrency-limits/db").status == 404


def test_cache_hit_turns_running_into_cached(api: ApiCaller, flow_run: str) -> None:
    result = {"uri": "file:///tmp/results/abc", "serializer": "json"}
    first = _task(api, flow_run, cache_key="extract-mon")
    _propose(api, first["id"], {"type": "RUNNING"})
    _propose(
        api,
        first["id"],
        {"type": "COMPLETED", "result": result, "cache_expiration": "2026-03-02T00:00:00Z"},
    )
    second = _task(api, flow_run, cache_key="extract-mon", name="extract-again", dynamic_key="1")
    answer = _propose(api, second["id"], {"type": "RUNNING", "cache_key": "extract-mon"})
    assert answer.body["status"] == "REJECT"
    assert answer.body["state"]["name"] == "Cached"
    assert answer.body["state"]["result"]["uri"] == result["uri"]


def test_batch_records_tasks_with_one_call(api: ApiCaller, flow_run: str) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    items = [
        {
            "task_run": {"id": task_id, "flow_run_id": flow_run, "task_key": "t", "name": f"t-{n}"},
            "states": [{"type": "RUNNING"}, {"type": "COMPLETED"}],
        }
        for n, task_id in enumerate(ids)
    ]
    answer = api.post("/task-runs/batch", {"items": items})
    assert answer.status == 200
    assert [r["status"] for r in answer.body["results"]] == ["ACCEPT"] * 3
    assert [r["version"] for r in answer.body["results"]] == [2, 2, 2]
    stored = api.get(f"/task-runs/{ids[1]}").body
    assert stored["state"]["type"] == "COMPLETED"
    assert stored["run_count"] == 1


def test_batch_of_a_cancelling_flow_stops_tasks(api: ApiCaller, flow_run: str) -> None:
    api.post(f"/flow-runs/{flow_run}/cancel")
    task_id = str(uuid.uuid4())
    item = {
        "task_run": {"id": task_id, "flow_run_id": flow_run, "task_key": "t", "name": "t"},
        "states": [{"type": "RUNNING"}, {"type": "COMPLETED"}],
    }
    result = api.post("/task-runs/batch", {"items": [item]}).body["results"][0]
    assert result["status"] == "ABORT"
    assert result["state"]["type"] == "PENDING"


def test_logs_come_back_in_order_and_complete(api: ApiCaller, flow_run: str, clock) -> None:
    lines = []
    for index in range(250):
        stamp = clock.advance(0.001).isoformat()
        lines.append({"flow_run_id": flow_run, "message": f"line {index}", "timestamp": stamp})
    assert api.post("/logs", lines).status == 201
    seen: list[str] = []
    token = None
    while True:
        page = api.get(f"/flow-runs/{flow_run}/logs", query={"limit": 100, "next_token": token})
        seen += [line["message"] for line in page.body["items"]]
        token = page.body["next_token"]
        if token is None:
            break
    assert seen == [f"line {index}" for index in range(250)]


def test_logs_of_unknown_runs_write_nothing(api: ApiCaller, flow_run: str) -> None:
    lines = [
        {"flow_run_id": flow_run, "message": "ok"},
        {"flow_run_id": str(uuid.uuid4()), "message": "orphan"},
    ]
    assert api.post("/logs", lines).status == 404
    assert api.get(f"/flow-runs/{flow_run}/logs").body["items"] == []


def test_too_many_log_lines_is_a_413(api: ApiCaller, flow_run: str) -> None:
    lines = [{"flow_run_id": flow_run, "message": "x"} for _ in range(1001)]
    answer = api.post("/logs", lines)
    assert answer.status == 413
    assert answer.code == "too_many_logs"


def test_batch_items_of_the_same_task_run_apply_in_order(api: ApiCaller, flow_run: str) -> None:
    task_id = str(uuid.uuid4())
    create = {"id": task_id, "flow_run_id": flow_run, "task_key": "t", "name": "t"}
    items = [
        {"task_run": create, "states": [{"type": "RUNNING"}]},
        {"task_run": create, "states": [{"type": "COMPLETED"}]},
    ]
    results = api.post("/task-runs/batch", {"items": items}).body["results"]
    assert [r["status"] for r in results] == ["ACCEPT", "ACCEPT"]
    assert [r["version"] for r in results] == [1, 2]
    stored = api.get(f"/task-runs/{task_id}").body
    assert stored["state"]["type"] == "COMPLETED"
    assert stored["run_count"] == 1
    assert stored["version"] == 2


def test_replayed_batch_does_not_rewrite_finished_runs(api: ApiCaller, flow_run: str) -> None:
    task_id = str(uuid.uuid4())
    item = {
        "task_run": {"id": task_id, "flow_run_id": flow_run, "task_key": "t", "name": "t"},
        "states": [{"type": "RUNNING"}, {"type": "COMPLETED"}],
    }
    api.post("/task-runs/batch", {"items": [item]})
    again = api.post("/task-runs/batch", {"items": [item]}).body["results"][0]
    assert again["status"] == "ABORT"
    stored = api.get(f"/task-runs/{task_id}").body
    assert (stored["version"], stored["run_count"]) == (2, 1)


def test_batch_does_not_start_tasks_of_limited_tags(api: ApiCaller, flow_run: str) -> None:
    """Slots are taken only on the synchronous path; a batch cannot go around a tag limit."""
    api.put("/concurrency-limits/db", {"limit": 1})
    task_id = str(uuid.uuid4())
    item = {
        "task_run": {
            "id": task_id, "flow_run_id": flow_run, "task_key": "t", "name": "t", "tags": ["db"]
        },
        "states": [{"type": "RUNNING"}, {"type": "COMPLETED"}],
    }  # fmt: skip
    result = api.post("/task-runs/batch", {"items": [item]}).body["results"][0]
    assert result["status"] == "WAIT"
    stored = api.get(f"/task-runs/{task_id}").body
    assert stored["state"]["type"] == "PENDING"
    assert api.get("/concurrency-limits/db").body["active_slots"] == []
