"""The engine and client against the real API handler (in-process transport, moto DynamoDB)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from stratoflow import flow, task
from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.runtime import RuntimeConfig, use_runtime
from stratoflow.runtime.results import LocalResultStore
from stratoflow.schemas import FlowRunFilter, StateType
from stratoflow_functions.local.transport import ApiTransport
from tests.support import in_process_api


@pytest.fixture
def real_client(aws: None) -> Iterator[StratoflowClient]:
    app, key = in_process_api("stratoflow-sdk-test")
    client_settings = ClientSettings(api_url="http://api.local", api_key=key)
    with StratoflowClient(client_settings, transport=ApiTransport(app)) as client:
        yield client


@pytest.fixture
def real_runtime(real_client: StratoflowClient, tmp_path: Path) -> Iterator[RuntimeConfig]:
    config = RuntimeConfig(
        orchestrator=real_client, results=LocalResultStore(tmp_path / "results"),
        batch_seconds=0.05, log_seconds=0.05, console=False,
    )  # fmt: skip
    with use_runtime(config):
        yield config


def test_flow_with_retries_map_and_subflow_is_recorded_by_the_real_api(
    real_client: StratoflowClient, real_runtime: RuntimeConfig
) -> None:
    attempts: list[int] = []

    @task(retries=1)
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("once")
        return 2

    @task
    def square(x: int) -> int:
        return x * x

    @flow
    def child(n: int) -> int:
        return n + 1

    @flow(task_concurrency=4)
    def real_parent() -> int:
        factor = flaky()
        return sum(f.result() for f in square.map(range(10))) * factor + child(1)

    assert real_parent() == 285 * 2 + 2
    runs = real_client.list_flow_runs(FlowRunFilter(state=StateType.COMPLETED)).items
    assert sorted(r.flow_name or "" for r in runs) == ["child", "real-parent"]
    parent = next(r for r in runs if r.flow_name == "real-parent")
    task_runs = real_client.list_task_runs(parent.id, limit=200).items
    assert len(task_runs) == 12  # flaky, 10 squares, the subflow's task run
    assert all(t.state.type == StateType.COMPLETED for t in task_runs)
    assert next(t for t in task_runs if t.name == "flaky-0").run_count == 2


def test_cache_hit_through_the_real_api(
    real_client: StratoflowClient, real_runtime: RuntimeConfig
) -> None:
    executions: list[int] = []

    @task(cache_key_fn=lambda ctx, args: f"sq-{args['x']}", cache_expiration=timedelta(hours=1))
    def cached_square(x: int) -> int:
        executions.append(x)
        return x * x

    @flow
    def cached_real(x: int) -> int:
        return cached_square(x)

    assert cached_real(4) == 16
    assert cached_real(4) == 16
    assert executions == [4]


def test_deployment_run_gets_the_flows_retry_policy(
    real_client: StratoflowClient, real_runtime: RuntimeConfig
) -> None:
    """A run created by a deployment learns the flow's retries when it starts RUNNING, so a
    failed attempt is rescheduled by the server for an agent to claim again."""
    from stratoflow.runtime.engine import execute_flow_run
    from stratoflow.schemas import DeploymentCreate, DeploymentRunCreate, FlowCreate

    @flow(name="retried-by-server", retries=2, retry_delay_seconds=7)
    def fails() -> None:
        raise RuntimeError("boom")

    flow_id = real_client.create_flow(FlowCreate(name="retried-by-server")).id
    deployment = real_client.create_deployment(
        DeploymentCreate(flow_id=flow_id, name="d", entrypoint="x.py:fails")
    )
    run = real_client.create_deployment_run(deployment.id, DeploymentRunCreate())
    outcome = execute_flow_run(fails, run, real_runtime)
    stored = real_client.read_flow_run(run.id)
    assert outcome.state.name == "AwaitingRetry"
    assert stored.state.name == "AwaitingRetry"
    assert stored.retry_policy.retries == 2
    assert stored.retry_policy.retry_delay_seconds == [7.0]
