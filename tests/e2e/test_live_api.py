"""The SDK against the API over real HTTP, on moto's server: what a user's process does."""

from __future__ import annotations

import httpx

from stratoflow import flow, task
from stratoflow.client import StratoflowClient, load_client_settings
from tests.fixtures.live_api import LiveApi


def test_health_and_auth_over_http(live_api: LiveApi) -> None:
    assert httpx.get(f"{live_api.url}/health").json()["status"] == "ok"
    refused = httpx.get(f"{live_api.url}/flows")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "missing_credentials"


def test_a_flow_run_is_recorded_over_http(live_api: LiveApi, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("STRATOFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("STRATOFLOW_API_URL", live_api.url)
    monkeypatch.setenv("STRATOFLOW_API_KEY", live_api.key)
    calls: list[int] = []

    @task(retries=1, retry_delay_seconds=0)
    def flaky(n: int) -> int:
        calls.append(n)
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        return n * 2

    @task
    def double(n: int) -> int:
        return n * 2

    @flow(name="live-etl")
    def etl(n: int) -> int:
        return flaky(n) + sum(f.result() for f in double.map(range(5)))

    assert etl(3) == 26
    settings = load_client_settings(api_url=live_api.url, api_key=live_api.key)
    with StratoflowClient(settings) as client:
        runs = client.list_flow_runs().items
        assert len(runs) == 1
        assert runs[0].state.type == "COMPLETED"
        tasks = client.list_task_runs(runs[0].id).items
    assert len(tasks) == 6
    assert {t.state.type for t in tasks} == {"COMPLETED"}
    assert max(t.run_count for t in tasks) == 2
