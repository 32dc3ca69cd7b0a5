"""Flow runs: proposals answered by the rules, versions, replays, retries, cancel, heartbeat."""

from __future__ import annotations

import uuid

from tests.support import ApiCaller, FakeClock


def _run(api: ApiCaller, flow_id: str, **extra) -> dict:
    answer = api.post("/flow-runs", {"flow_id": flow_id, **extra})
    assert answer.status == 201
    return answer.body


def _propose(api: ApiCaller, run_id: str, state_type: str, **extra):
    return api.post(f"/flow-runs/{run_id}/state", {"state": {"type": state_type}, **extra})


def test_a_new_run_is_pending_at_version_zero(api: ApiCaller, flow_id: str) -> None:
    run = _run(api, flow_id, parameters={"day": "mon"})
    assert run["state"]["type"] == "PENDING"
    assert run["version"] == 0
    assert run["flow_name"] == "etl"
    assert "-" in run["name"]


def test_accepted_proposals_bump_the_version(api: ApiCaller, flow_id: str) -> None:
    run = _run(api, flow_id)
    running = _propose(api, run["id"], "RUNNING")
    assert running.status == 200
    assert running.body["status"] == "ACCEPT"
    assert running.body["version"] == 1
    done = _propose(api, run["id"], "COMPLETED")
    assert done.body["version"] == 2
    stored = api.get(f"/flow-runs/{run['id']}").body
    assert stored["state"]["type"] == "COMPLETED"
    assert stored["run_count"] == 1
    assert stored["start_time"] is not None
    assert stored["end_time"] is not None


def test_expected_version_mismatch_is_a_409(api: ApiCaller, flow_id: str) -> None:
    run = _run(api, flow_id)
    _propose(api, run["id"], "RUNNING")
    answer = _propose(api, run["id"], "COMPLETED", expected_version=0)
    assert answer.status == 409
    assert answer.code == "version_conflict"
    assert api.get(f"/flow-runs/{run['id']}").body["state"]["type"] == "RUNNING"


def test_duplicate_transition_is_answered_like_the_first(api: ApiCaller, flow_id: str) -> None:
    run = _run(api, flow_id)
    transition = str(uuid.uuid4())
    first = _propose(api, run["id"], "RUNNING", transition_id=transition)
    second = _propose(api, run["id"], "RUNNING", transition_id=transition)
    assert second.body == first.body
    assert api.get(f"/flow-runs/{run['id']}").body["version"] == 1


def test_failed_run_with_retries_left_is_rescheduled(
    api: ApiCaller, flow_id: str, clock: FakeClock
) -> None:
    run = _run(api, flow_id, retry_policy={"retries": 1, "retry_delay_seconds": [30]})
    _propose(api, run["id"], "RUNNING")
    failed = _propose(api, run["id"], "FAILED")
    assert failed.body["status"] == "REJECT"
    assert failed.body["state"]["name"] == "AwaitingRetry"
    assert failed.body["state"]["scheduled_time"].startswith("2026-03-01T12:00:30")
    early = _propose(api, run["id"], "RUNNING")
    assert early.body["status"] == "WAIT"
    assert early.body["delay_seconds"] == 30
    clock.advance(30)
    assert _propose(api, run["id"], "RUNNING").body["status"] == "ACCEPT"
    final = _propose(api, run["id"], "FAILED")
    assert final.body["status"] == "ACCEPT"
    assert final.body["state"]["type"] == "FAILED"
    assert api.get(f"/flow-runs/{run['id']}").body["run_count"] == 2


def test_terminal_runs_do_not_move(api: ApiCaller, flow_id: str) -> None:
    run = _run(api, flow_id)
    _propose(api, run["id"], "RUNNING")
    _propose(api, run["id"], "COMPLETED")
    answer = _propose(api, run["id"], "RUNNING")
    assert answer.body["status"] == "ABORT"
    assert answer.body["reason"]
    assert api.get(f"/flow-runs/{run['id']}").body["state"]["type"] == "COMPLETED"


def test_idempotency_key_returns_the_first_run(api: ApiCaller, flow_id: str) -> None:
    first = api.post("/flow-runs", {"flow_id": flow_id, "idempotency_key": "k-1"})
    second = api.post("/flow-runs", {"flow_id": flow_id, "idempotency_key": "k-1"})
    assert (first.status, second.status) == (201, 200)
    assert first.body["id"] == second.body["id"]
    assert len(api.get("/flow-runs").body["items"]) == 1


def test_cancel_before_start_cancels_at_once(api: ApiCaller, deployment_id: str) -> None:
    run = api.post(f"/deployments/{deployment_id}/runs").body
    answer = api.post(f"/flow-runs/{run['id']}/cancel")
    assert answer.body["state"]["type"] == "CANCELLED"


def test_cancel_while_running_asks_the_engine_to_stop(api: ApiCaller, flow_id: str) -> None:
    run = _run(api, flow_id)
    _propose(api, run["id"], "RUNNING")
    assert api.post(f"/flow-runs/{run['id']}/cancel").body["state"]["type"] == "CANCELLING"
    beat = api.post(f"/flow-runs/{run['id']}/heartbeat", {})
    assert beat.body["state"]["type"] == "CANCELLING"
    refused = _propose(api, run["id"], "COMPLETED")
    assert refused.body["status"] == "ABORT"
    assert _propose(api, run["id"], "CANCELLED").body["status"] == "ACCEPT"
    finished = api.post(f"/flow-runs/{run['id']}/cancel")
    assert finished.status == 409
    assert finished.code == "run_finished"


def test_heartbeat_records_time_without_a_version_change(
    api: ApiCaller, flow_id: str, clock: FakeClock
) -> None:
    run = _run(api, flow_id)
    _propose(api, run["id"], "RUNNING")
    clock.advance(45)
    beat = api.post(f"/flow-runs/{run['id']}/heartbeat", {"infrastructure_id": "pid:42"})
    assert beat.status == 200
    assert beat.body["heartbeat"].startswith("2026-03-01T12:00:45")
    assert beat.body["version"] == 1


def test_list_filters_by_state_and_flow_newest_first(
    api: ApiCaller, flow_id: str, clock: FakeClock
) -> None:
    other = api.post("/flows", {"name": "other"}).body["id"]
    ids = []
    for _ in range(3):
        ids.append(_run(api, flow_id)["id"])
        clock.advance(1)
    _run(api, other)
    _propose(api, ids[0], "RUNNING")
    by_flow = api.get("/flow-runs", query={"flow_id": flow_id}).body["items"]
    assert [item["id"] for item in by_flow] == ids[::-1]
    running = api.get("/flow-runs", query={"state": "RUNNING"}).body["items"]
    assert [item["id"] for item in running] == [ids[0]]
    assert len(api.get("/flow-runs").body["items"]) == 4


def test_unknown_flow_run_is_a_404_for_every_route(api: ApiCaller) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert api.get(f"/flow-runs/{missing}").status == 404
    assert _propose(api, missing, "RUNNING").status == 404
    assert api.post(f"/flow-runs/{missing}/heartbeat", {}).status == 404
    assert api.post(f"/flow-runs/{missing}/cancel").status == 404
    assert api.get(f"/flow-runs/{missing}/task-runs").status == 404
    assert api.get(f"/flow-runs/{missing}/logs").status == 404
