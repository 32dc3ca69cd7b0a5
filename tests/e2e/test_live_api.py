"""The SDK against the API over real HTTP, on moto's server: what a user's process does."""

from __future__ import annotations

import logging

import httpx
import pytest

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


def _live_client(live_api: LiveApi, monkeypatch, tmp_path) -> StratoflowClient:
    monkeypatch.setenv("STRATOFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("STRATOFLOW_API_URL", live_api.url)
    monkeypatch.setenv("STRATOFLOW_API_KEY", live_api.key)
    return StratoflowClient(load_client_settings(api_url=live_api.url, api_key=live_api.key))


def test_batched_task_runs_record_their_true_durations(
    live_api: LiveApi, monkeypatch, tmp_path
) -> None:
    import time

    @task
    def nap(i: int) -> int:
        time.sleep(0.05 + i * 0.01)
        return i

    @flow(name="live-naps")
    def naps() -> int:
        return sum(f.result() for f in nap.map(range(12)))

    client = _live_client(live_api, monkeypatch, tmp_path)
    assert naps() == 66
    with client:
        (run,) = client.list_flow_runs().items
        tasks = client.list_task_runs(run.id).items
    assert len(tasks) == 12
    durations = {}
    for t in tasks:
        assert t.start_time is not None
        assert t.end_time is not None
        durations[t.name] = (t.end_time - t.start_time).total_seconds()
        assert t.start_time >= run.created
    assert all(seconds >= 0.05 for seconds in durations.values()), durations
    assert len(set(durations.values())) == 12  # not one shared instant
    assert len({t.start_time for t in tasks}) == 12


def test_task_failures_and_retries_are_in_the_run_logs(
    live_api: LiveApi, monkeypatch, tmp_path
) -> None:
    @task(retries=2, retry_delay_seconds=0)
    def always_fails() -> None:
        raise ValueError("the disk is full")

    @flow(name="live-failing")
    def failing() -> None:
        always_fails()

    client = _live_client(live_api, monkeypatch, tmp_path)
    with pytest.raises(ValueError, match="the disk is full"):
        failing()
    with client:
        (run,) = client.list_flow_runs().items
        (task_run,) = client.list_task_runs(run.id).items
        lines = client.list_logs(run.id).items
    name = task_run.name
    warnings = [line for line in lines if line.level == logging.WARNING]
    assert [line.message for line in warnings] == [
        f"Task run {name!r} failed; retrying in 0 s (attempt {k} of 3): "
        "ValueError: the disk is full"
        for k in (1, 2)
    ]
    errors = [line for line in lines if line.level == logging.ERROR]
    task_error = next(line for line in errors if line.task_run_id == task_run.id)
    assert task_error.message.startswith(f"Task run {name!r} failed: ValueError: the disk is full")
    assert "Traceback (most recent call last):" in task_error.message
    assert 'raise ValueError("the disk is full")' in task_error.message
    assert all(line.task_run_id == task_run.id for line in warnings)
    flow_error = next(line for line in errors if line.message.startswith("Flow run "))
    assert flow_error.task_run_id is None
    assert "Traceback (most recent call last):" in flow_error.message
    assert lines[-1].message == "Finished in state Failed('ValueError: the disk is full')"
    assert lines[-1].level == logging.ERROR
