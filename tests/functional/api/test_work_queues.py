"""Work queues, claims and agents."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.support import ApiCaller, FakeClock


def _claim(api: ApiCaller, queue: str = "default", limit: int = 10, agent: str | None = None):
    body = {"agent_id": agent or str(uuid.uuid4()), "limit": limit}
    return api.post(f"/work-queues/{queue}/claim", body)


def test_claim_takes_due_runs_once(api: ApiCaller, deployment_id: str) -> None:
    runs = [api.post(f"/deployments/{deployment_id}/runs").body for _ in range(3)]
    first = _claim(api)
    assert first.status == 200
    claimed = first.body["runs"]
    assert sorted(item["flow_run"]["id"] for item in claimed) == sorted(r["id"] for r in runs)
    assert {item["flow_run"]["state"]["type"] for item in claimed} == {"PENDING"}
    assert claimed[0]["deployment"]["id"] == deployment_id
    assert _claim(api).body["runs"] == []


def test_claim_skips_runs_not_yet_due(api: ApiCaller, deployment_id: str, clock: FakeClock) -> None:
    later = clock.advance(0).replace(hour=13).isoformat()
    api.post(f"/deployments/{deployment_id}/runs", {"scheduled_start_time": later})
    assert _claim(api).body["runs"] == []
    clock.advance(3600)
    assert len(_claim(api).body["runs"]) == 1


def test_claim_honours_limit_and_queue(api: ApiCaller, flow_id: str) -> None:
    body = {"flow_id": flow_id, "name": "gpu", "entrypoint": "a.py:f", "work_queue": "gpu"}
    gpu = api.post("/deployments", body).body["id"]
    for _ in range(3):
        api.post(f"/deployments/{gpu}/runs")
    assert _claim(api, "default").body["runs"] == []
    assert len(_claim(api, "gpu", limit=2).body["runs"]) == 2
    assert len(_claim(api, "gpu", limit=2).body["runs"]) == 1


def test_paused_queue_hands_out_nothing(api: ApiCaller, deployment_id: str) -> None:
    api.post(f"/deployments/{deployment_id}/runs")
    assert api.put("/work-queues/default", {"paused": True}).body["paused"] is True
    assert _claim(api).body["runs"] == []
    api.put("/work-queues/default", {"paused": False})
    assert len(_claim(api).body["runs"]) == 1


def test_work_queues_are_listed(api: ApiCaller) -> None:
    api.put("/work-queues/etl", {"concurrency_limit": 4})
    assert api.get("/work-queues/etl").body["concurrency_limit"] == 4
    assert "etl" in [queue["name"] for queue in api.get("/work-queues").body["items"]]
    assert api.get("/work-queues/missing").status == 404


def test_agent_heartbeat_is_recorded(api: ApiCaller, clock: FakeClock) -> None:
    agent_id = str(uuid.uuid4())
    answer = api.post(f"/agents/{agent_id}/heartbeat", {"name": "laptop", "work_queue": "etl"})
    assert answer.status == 200
    assert answer.body["id"] == agent_id
    assert answer.body["last_heartbeat"].startswith("2026-03-01T12:00:00")


def _finish(api: ApiCaller, run_id: str) -> None:
    api.post(f"/flow-runs/{run_id}/state", {"state": {"type": "RUNNING"}})
    api.post(f"/flow-runs/{run_id}/state", {"state": {"type": "COMPLETED"}})


def test_claim_honours_the_work_queue_concurrency_limit(api: ApiCaller, deployment_id: str) -> None:
    api.put("/work-queues/default", {"concurrency_limit": 2})
    for _ in range(3):
        api.post(f"/deployments/{deployment_id}/runs")
    first = _claim(api).body["runs"]
    assert len(first) == 2
    assert _claim(api).body["runs"] == []
    _finish(api, first[0]["flow_run"]["id"])
    assert len(_claim(api).body["runs"]) == 1
    assert first[0]["flow_run"]["concurrency_slots"] == ["work-queue:default"]


def test_claim_honours_the_deployment_concurrency_limit(api: ApiCaller, flow_id: str) -> None:
    body = {"flow_id": flow_id, "name": "one", "entrypoint": "a.py:f", "concurrency_limit": 1}
    limited = api.post("/deployments", body).body["id"]
    free = api.post("/deployments", {**body, "name": "free", "concurrency_limit": None}).body
    for deployment in (limited, limited, free["id"]):
        api.post(f"/deployments/{deployment}/runs")
    claimed = _claim(api).body["runs"]
    assert sorted(item["deployment"]["name"] for item in claimed) == ["free", "one"]
    running = next(item for item in claimed if item["deployment"]["name"] == "one")
    api.post(f"/flow-runs/{running['flow_run']['id']}/cancel")
    again = _claim(api).body["runs"]
    assert [item["deployment"]["name"] for item in again] == ["one"]


def test_removing_a_limit_frees_the_queue(api: ApiCaller, deployment_id: str) -> None:
    api.put("/work-queues/default", {"concurrency_limit": 1})
    for _ in range(2):
        api.post(f"/deployments/{deployment_id}/runs")
    assert len(_claim(api).body["runs"]) == 1
    assert _claim(api).body["runs"] == []
    api.put("/work-queues/default", {"concurrency_limit": None})
    assert len(_claim(api).body["runs"]) == 1


def test_reserved_limit_tags_are_refused(api: ApiCaller) -> None:
    answer = api.put("/concurrency-limits/work-queue:default", {"limit": 9})
    assert answer.status == 422
    assert answer.code == "reserved_tag"
    assert api.delete("/concurrency-limits/deployment:x").code == "reserved_tag"


def _table_keys(settings) -> set[tuple[str, str]]:
    import boto3

    table = boto3.resource("dynamodb", region_name="us-east-1").Table(settings.table_name)
    return {(item["pk"], item["sk"]) for item in table.scan()["Items"]}


def _plant(settings, **item: str) -> None:
    """Write an item as an older version or a bug could have left it, bypassing the store."""
    import boto3

    boto3.resource("dynamodb", region_name="us-east-1").Table(settings.table_name).put_item(
        Item=item
    )


def test_a_put_with_an_invalid_queue_name_writes_nothing(api: ApiCaller, settings) -> None:
    before = _table_keys(settings)
    answer = api.put("/work-queues/bad%20name!", {"concurrency_limit": 2})
    assert answer.status == 422
    assert answer.body["error"]["details"][0]["loc"] == ["path", "name"]
    assert _table_keys(settings) == before
    assert api.get("/work-queues").status == 200


def test_a_claim_on_an_invalid_queue_name_writes_nothing(api: ApiCaller, settings) -> None:
    before = _table_keys(settings)
    assert _claim(api, "bad%20name!").status == 422
    assert api.put("/concurrency-limits/bad%20tag!", {"limit": 1}).status == 422
    assert _table_keys(settings) == before


def test_the_store_refuses_to_write_a_queue_it_could_not_read_back(store, settings) -> None:
    from pydantic import ValidationError

    from stratoflow.schemas import WorkQueueUpdate

    before = _table_keys(settings)
    with pytest.raises(ValidationError):
        store.work_queues.put("bad name!", WorkQueueUpdate(), datetime.now(UTC))
    with pytest.raises(ValidationError):
        store.work_queues.get_or_create("", datetime.now(UTC))
    assert _table_keys(settings) == before


def test_one_unreadable_stored_item_does_not_break_lists_or_the_scheduler(
    api: ApiCaller, deployment_id: str, store, settings, clock: FakeClock
) -> None:
    from stratoflow_functions.services.towel import schedule_runs

    api.put("/work-queues/good", {})
    _plant(
        settings,
        pk="WORK_QUEUE#bad name!",
        sk="WORK_QUEUE",
        entity="work_queue",
        id="bad name!",
        created="2026-03-01T12:00:00.000000Z",
        data="{}",
        gsi1pk="WORK_QUEUES",
        gsi1sk="bad name!",
    )
    _plant(
        settings,
        pk="DEPLOYMENT#00000000-0000-4000-8000-000000000000",
        sk="DEPLOYMENT",
        entity="deployment",
        data='{"not": "a deployment"}',
        gsi1pk="DEPLOYMENTS",
        gsi1sk="0",
    )
    queues = api.get("/work-queues")
    assert queues.status == 200
    # `default` is the deployment's queue, created with it (the push dispatcher lists queues)
    assert [q["name"] for q in queues.body["items"]] == ["default", "good"]
    deployments = api.get("/deployments")
    assert deployments.status == 200
    assert [d["id"] for d in deployments.body["items"]] == [deployment_id]
    schedule_runs(store, settings, clock())  # raised on the bad queue before
    assert _claim(api, "good").status == 200
