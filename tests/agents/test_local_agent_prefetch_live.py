"""The local agent's prefetch with real processes against the live API: a run due in a few
seconds is claimed before its time (PENDING early, its process started), and the process waits
until the run's expected start before it proposes RUNNING; an agent with no prefetch claims the
same run only once it is due."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from stratoflow.client import StratoflowClient
from stratoflow.schemas import (
    DeploymentCreate,
    DeploymentRunCreate,
    FlowCreate,
    FlowRun,
    StateType,
    utcnow,
)
from stratoflow_agents import AgentConfig, LocalAgent
from tests.agents.live_support import FAST, looping, wait_for, zip_bundle

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DUE_IN_SECONDS = 8.0


def _run_due_soon(client: StratoflowClient, queue: str) -> FlowRun:
    flow = client.create_flow(FlowCreate(name="nightly-etl"))
    code = zip_bundle(client, {"etl.py": (EXAMPLES / "etl.py").read_bytes()})
    deployment = client.create_deployment(
        DeploymentCreate(
            flow_id=flow.id, name=f"test-{queue}", entrypoint="etl.py:nightly_etl",
            work_queue=queue, code=code,
        )
    )  # fmt: skip
    start = utcnow() + timedelta(seconds=DUE_IN_SECONDS)
    body = DeploymentRunCreate(scheduled_start_time=start)
    return client.create_deployment_run(deployment.id, body)


def _agent(client: StratoflowClient, queue: str, home: Path, prefetch: float) -> LocalAgent:
    config = AgentConfig(work_queue=queue, **FAST, prefetch_seconds=prefetch)  # type: ignore[arg-type]
    env = {**os.environ, "STRATOFLOW_HOME": str(home)}
    return LocalAgent(config, client, client.settings, env)


def _state_of(client: StratoflowClient, run_id: UUID) -> StateType:
    return client.read_flow_run(run_id).state.type


def _claimed_then_completed(
    client: StratoflowClient, queue: str, home: Path, run: FlowRun, prefetch: float
) -> datetime:
    """Run an agent until `run` completes; when the agent was first seen holding it."""
    with looping(_agent(client, queue, home, prefetch=prefetch)) as agent:
        wait_for(lambda: run.id in agent.active, "the agent to claim the run")
        claimed_at = utcnow()
        wait_for(lambda: _state_of(client, run.id) is StateType.COMPLETED, "the run to end")
    return claimed_at


def test_the_agent_claims_ahead_and_the_child_waits_until_the_expected_start_before_running(
    client: StratoflowClient, home: Path
) -> None:
    queue = f"prefetch-{uuid4().hex[:8]}"
    run = _run_due_soon(client, queue)
    expected = run.expected_start_time
    assert expected is not None
    claimed_at = _claimed_then_completed(client, queue, home, run, prefetch=10.0)
    wait_for(lambda: len(client.list_flow_run_states(run.id)) >= 4, "the state history")
    states = client.list_flow_run_states(run.id)
    pending = next(s for s in states if s.type is StateType.PENDING)
    running = next(s for s in states if s.type is StateType.RUNNING)
    assert claimed_at < expected  # claimed (and its process started) before its time
    assert pending.timestamp < expected
    assert running.timestamp >= expected  # the child waited for the expected start
    assert client.read_flow_run(run.id).start_time >= expected


def test_an_agent_without_prefetch_claims_the_run_only_once_it_is_due(
    client: StratoflowClient, home: Path
) -> None:
    queue = f"prefetch-{uuid4().hex[:8]}"
    run = _run_due_soon(client, queue)
    expected = run.expected_start_time
    assert expected is not None
    claimed_at = _claimed_then_completed(client, queue, home, run, prefetch=0.0)
    assert claimed_at >= expected
