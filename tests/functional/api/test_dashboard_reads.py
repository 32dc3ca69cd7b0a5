"""The dashboard's reads over real HTTP (the live API: moto's server behind the local adapter):
state history, retry, run counters, the all-runs list by expected start, tags, agents."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.schemas import FlowRunFilter, FlowRunSort, StateType
from stratoflow_functions.store import build_store
from tests.fixtures.live_api import LiveApi, eventually
from tests.functional.store.store_support import make_run
from tests.support import make_moto_dynamodb_atomic

T_FAR = datetime(2030, 1, 1, tzinfo=UTC)


class Http:
    """Calls of the live API with its admin key."""

    def __init__(self, api: LiveApi) -> None:
        self.client = httpx.Client(
            base_url=api.url, headers={"Authorization": f"Bearer {api.key}"}, timeout=30
        )

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return self.client.request(method, path, json=body, params=params or None)


@pytest.fixture
def http(live_api: LiveApi) -> Http:
    return Http(live_api)


@pytest.fixture
def deployment(http: Http) -> dict[str, Any]:
    flow = http.call("POST", "/flows", {"name": "etl"}).json()
    spec = {"flow_id": flow["id"], "name": "nightly", "entrypoint": "flows/etl.py:etl"}
    return http.call("POST", "/deployments", spec).json()


def _propose(http: Http, run: dict[str, Any], state: str, name: str = "") -> dict[str, Any]:
    body = {"state": {"type": state, "name": name}, "expected_version": run["version"]}
    answer = http.call("POST", f"/flow-runs/{run['id']}/state", body)
    assert answer.status_code == 200, answer.text
    return http.call("GET", f"/flow-runs/{run['id']}").json()


def _failed_run(http: Http, deployment: dict[str, Any]) -> dict[str, Any]:
    run = http.call("POST", f"/deployments/{deployment['id']}/runs", {"tags": ["nightly"]}).json()
    for state in ("PENDING", "RUNNING", "FAILED"):
        run = _propose(http, run, state)
    return run


def test_state_history_lists_every_state_in_order(http: Http, deployment: dict) -> None:
    run = _failed_run(http, deployment)
    expected = ["SCHEDULED", "PENDING", "RUNNING", "FAILED"]

    def types() -> list[str]:
        states = http.call("GET", f"/flow-runs/{run['id']}/states")
        assert states.status_code == 200
        return [s["type"] for s in states.json()]

    assert eventually(types, expected) == expected
    assert http.call("GET", f"/flow-runs/{uuid.uuid4()}/states").json()["error"]["code"] == (
        "not_found"
    )


def test_retry_sends_a_failed_deployment_run_back_to_its_queue(
    http: Http, deployment: dict
) -> None:
    run = _failed_run(http, deployment)
    answer = http.call("POST", f"/flow-runs/{run['id']}/retry")
    assert answer.status_code == 200, answer.text
    retried = http.call("GET", f"/flow-runs/{run['id']}").json()
    assert (retried["state"]["type"], retried["state"]["name"]) == ("SCHEDULED", "AwaitingRetry")
    assert retried["run_count"] == run["run_count"]
    assert retried["end_time"] is None
    claim = {"agent_id": str(uuid.uuid4()), "limit": 5}
    claimed = http.call("POST", "/work-queues/default/claim", claim).json()["runs"]
    assert [c["flow_run"]["id"] for c in claimed] == [run["id"]]
    again = http.call("POST", f"/flow-runs/{run['id']}/retry")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "not_retryable")
    missing = http.call("POST", f"/flow-runs/{uuid.uuid4()}/retry")
    assert missing.status_code == 404


def test_stats_count_runs_by_state_and_hour(http: Http, deployment: dict) -> None:
    _failed_run(http, deployment)
    assert http.call("POST", f"/deployments/{deployment['id']}/runs", {}).status_code == 201
    later = http.call(
        "POST", f"/deployments/{deployment['id']}/runs", {"scheduled_start_time": T_FAR.isoformat()}
    ).json()
    now = datetime.now(UTC)
    window = {"after": (now - timedelta(hours=2)).isoformat(), "before": now.isoformat()}

    def stats_of(**params: Any) -> dict[str, Any]:
        return dict(http.call("GET", "/flow-runs/stats", **params).json())

    expected = {"FAILED": 1, "SCHEDULED": 1}
    assert eventually(lambda: stats_of(**window)["by_state"], expected) == expected
    stats = stats_of(**window)
    assert stats["bucket_seconds"] == 3600
    assert sum(sum(b["by_state"].values()) for b in stats["buckets"]) == 2
    scoped = http.call("GET", "/flow-runs/stats", deployment_id=deployment["id"], **window)
    assert scoped.json()["by_state"] == {"FAILED": 1, "SCHEDULED": 1}
    far = {"after": T_FAR.isoformat(), "before": (T_FAR + timedelta(hours=1)).isoformat()}
    assert eventually(lambda: stats_of(**far)["by_state"], {"SCHEDULED": 1}) == {"SCHEDULED": 1}
    assert later["id"]
    wide = {"after": now.isoformat(), "before": (now + timedelta(days=40)).isoformat()}
    too_wide = http.call("GET", "/flow-runs/stats", **wide)
    assert (too_wide.status_code, too_wide.json()["error"]["code"]) == (422, "range_too_large")
    backwards = http.call("GET", "/flow-runs/stats", after=window["before"], before=window["after"])
    assert (backwards.status_code, backwards.json()["error"]["code"]) == (422, "invalid_range")
    assert http.call("GET", "/flow-runs/stats", after="soon").status_code == 422
    ancient = {"after": "0390-11-02T00:00:00Z", "before": "0390-11-02T05:00:00Z"}
    assert stats_of(**ancient)["by_state"] == {}
    beyond = {"after": "0001-01-01T00:00:00+05:00", "before": window["before"]}
    assert http.call("GET", "/flow-runs/stats", **beyond).status_code == 422
    assert http.call("GET", "/flow-runs", expected_start_before=beyond["after"]).status_code == 422


def test_all_runs_list_by_expected_start_keeps_past_runs_first(
    http: Http, deployment: dict
) -> None:
    future = [
        http.call(
            "POST",
            f"/deployments/{deployment['id']}/runs",
            {"scheduled_start_time": (T_FAR + timedelta(hours=n)).isoformat()},
        ).json()["id"]
        for n in range(3)
    ]
    past = _failed_run(http, deployment)["id"]
    now = datetime.now(UTC).isoformat()
    before = http.call("GET", "/flow-runs", expected_start_before=now).json()["items"]
    assert [r["id"] for r in before] == [past]
    upcoming = http.call(
        "GET", "/flow-runs", expected_start_after=now, sort="expected_start_asc"
    ).json()["items"]
    assert [r["id"] for r in upcoming] == future
    tagged = http.call("GET", "/flow-runs", tags="other,nightly").json()["items"]
    assert [r["id"] for r in tagged] == [past]
    assert http.call("GET", "/flow-runs", tags="bad tag!").status_code == 422
    assert http.call("GET", "/flow-runs", sort="created").json()["error"]["code"] == (
        "invalid_sort"
    )


def test_agents_are_listed_most_recently_seen_first(http: Http) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    http.call("POST", f"/agents/{first}/heartbeat", {"name": "a", "work_queue": "gpu"})
    http.call("POST", f"/agents/{second}/heartbeat", {"name": "b"})
    page = http.call("GET", "/agents", limit=1).json()
    assert [a["id"] for a in page["items"]] == [second]
    rest = http.call("GET", "/agents", limit=1, next_token=page["next_token"]).json()
    assert [(a["id"], a["work_queue"]) for a in rest["items"]] == [(first, "gpu")]


def test_sdk_client_calls_the_new_routes(live_api: LiveApi, http: Http, deployment: dict) -> None:
    run = _failed_run(http, deployment)
    client = StratoflowClient(ClientSettings(api_url=live_api.url, api_key=live_api.key))
    last = eventually(lambda: client.list_flow_run_states(run["id"])[-1].type, StateType.FAILED)
    assert last is StateType.FAILED
    now = datetime.now(UTC)
    failed = {StateType.FAILED: 1}
    by_state = eventually(
        lambda: client.flow_run_stats(now - timedelta(hours=1), now).by_state, failed
    )
    assert by_state == failed
    assert client.retry_flow_run(run["id"]).state.name == "AwaitingRetry"
    flt = FlowRunFilter(tags=["nightly"], sort=FlowRunSort.EXPECTED_START)
    assert [r.id for r in client.list_flow_runs(flt).items] == [uuid.UUID(run["id"])]
    assert client.list_agents().items == []


THREADS = 8
RUNS_PER_THREAD = 6


def test_stats_stay_exact_under_concurrent_state_changes(
    live_api: LiveApi, http: Http, deployment: dict
) -> None:
    """Threads create runs and race to move them (two proposals per change: one wins); the
    counters then equal the states the runs are stored in."""
    make_moto_dynamodb_atomic()
    runs = [
        http.call("POST", f"/deployments/{deployment['id']}/runs", {}).json()
        for _ in range(THREADS * RUNS_PER_THREAD)
    ]
    errors: list[str] = []
    start = threading.Barrier(THREADS)

    def mover(mine: list[dict[str, Any]]) -> None:
        local = Http(live_api)
        start.wait()
        for n, run in enumerate(mine):
            for state in ("PENDING", "RUNNING", ("COMPLETED", "FAILED", "CANCELLED")[n % 3]):
                body = {"state": {"type": state}, "expected_version": run["version"]}
                answer = local.call("POST", f"/flow-runs/{run['id']}/state", body)
                if answer.status_code not in (200, 409):
                    errors.append(answer.text)
                run = local.call("GET", f"/flow-runs/{run['id']}").json()

    # Two threads per slice of runs: every change races a rival proposing the same state.
    slices = [runs[i :: THREADS // 2] for i in range(THREADS // 2)]
    threads = [
        threading.Thread(target=mover, args=(slices[i % len(slices)],)) for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    truth = Counter(
        http.call("GET", f"/flow-runs/{run['id']}").json()["state"]["type"] for run in runs
    )
    now = datetime.now(UTC)
    window = {
        "after": (now - timedelta(hours=1)).isoformat(),
        "before": (now + timedelta(minutes=1)).isoformat(),
    }
    by_state = eventually(
        lambda: http.call("GET", "/flow-runs/stats", **window).json()["by_state"], dict(truth)
    )
    assert by_state == dict(truth)
    assert sum(truth.values()) == len(runs)


STATS_RUNS = 600
STATS_HOURS = 300


def test_stats_read_is_bounded_by_buckets_and_shards(live_api: LiveApi) -> None:
    """600 runs over 300 hours: the stats read is one query per index shard (each well under a
    1 MB page), counted at botocore's before-call hook, whatever the number of runs."""
    store = build_store(live_api.settings)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(STATS_RUNS):
        when = at + timedelta(hours=n % STATS_HOURS, minutes=n % 60)
        store.flow_runs.create(make_run(at=when, expected_start_time=when))
    window = (at, at + timedelta(days=30))
    expected = {StateType.PENDING: STATS_RUNS}
    assert eventually(lambda: store.flow_runs.stats(*window).by_state, expected) == expected
    calls: list[str] = []
    client = store.flow_runs._ctx.models.root._get_connection().connection.client
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    stats = store.flow_runs.stats(*window)
    assert calls == ["Query"] * store.flow_runs.shards.read_shards()
    assert stats.by_state == expected
    assert len(stats.buckets) == STATS_HOURS
