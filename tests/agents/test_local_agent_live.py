"""The local agent with real processes against the live API (moto's server + the real API over
HTTP): a deployment runs to COMPLETED, a killed flow process is reported CRASHED, a cancelled
run ends CANCELLED, SIGTERM to the agent leaves nothing RUNNING, and when the agent and its
flow process are both killed the zombie killer crashes the run. Intervals are short (config)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from stratoflow.client import StratoflowClient
from stratoflow.schemas import (
    CodeBundle,
    DeploymentCreate,
    DeploymentRunCreate,
    FlowCreate,
    FlowRun,
    StateType,
    utcnow,
)
from stratoflow_agents import LocalRunHandle
from stratoflow_agents.local import stratoflow_command
from stratoflow_functions.services.towel import kill_zombies
from tests.agents.live_support import (
    FAST_FLAGS,
    agent_in_thread,
    children_of,
    wait_for,
    zip_bundle,
)
from tests.fixtures.live_api import LiveApi

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def upload_example(client: StratoflowClient, name: str) -> CodeBundle:
    """A code bundle holding one example file, uploaded through the API."""
    return zip_bundle(client, {name: (EXAMPLES / name).read_bytes()})


def start_run(
    client: StratoflowClient, tmp_path: Path, queue: str, entrypoint: str, flow_name: str,
    parameters: dict[str, object] | None = None,
) -> UUID:  # fmt: skip
    """Deploy an example (as a zip bundle) on `queue` and start one run of it."""
    flow = client.create_flow(FlowCreate(name=flow_name))
    deployment = client.create_deployment(
        DeploymentCreate(
            flow_id=flow.id, name=f"test-{queue}", entrypoint=entrypoint, work_queue=queue,
            code=upload_example(client, entrypoint.split(":")[0]), parameters=parameters or {},
        )
    )  # fmt: skip
    return client.create_deployment_run(deployment.id, DeploymentRunCreate()).id


def state_of(client: StratoflowClient, run_id: UUID) -> FlowRun:
    return client.read_flow_run(run_id)


def in_state(client: StratoflowClient, run_id: UUID, *types: StateType) -> Callable[[], bool]:
    return lambda: state_of(client, run_id).state.type in types


def queue_name() -> str:
    return f"agents-{uuid4().hex[:8]}"


def test_the_local_agent_runs_a_deployment_to_completed(
    client: StratoflowClient, home: Path, tmp_path: Path
) -> None:
    queue = queue_name()
    run_id = start_run(client, tmp_path, queue, "etl.py:nightly_etl", "nightly-etl")
    with agent_in_thread(client, queue, {**os.environ, "STRATOFLOW_HOME": str(home)}) as agent:
        wait_for(in_state(client, run_id, StateType.COMPLETED), "the run to complete")
        wait_for(lambda: not agent.active, "the agent to reap the run")
    run = state_of(client, run_id)
    assert run.agent_id == agent.agent_id
    assert run.infrastructure == "local"
    assert client.list_task_runs(run_id).items  # the engine really ran, recording tasks


def test_a_flow_process_killed_with_sigkill_is_reported_crashed_with_its_exit_code(
    client: StratoflowClient, home: Path, tmp_path: Path
) -> None:
    queue = queue_name()
    run_id = start_run(client, tmp_path, queue, "sleepy_flow.py:sleepy", "sleepy")
    with agent_in_thread(client, queue, {**os.environ, "STRATOFLOW_HOME": str(home)}) as agent:
        wait_for(in_state(client, run_id, StateType.RUNNING), "the run to start")
        handle = agent.active[run_id].handle
        assert isinstance(handle, LocalRunHandle)
        workdir = handle.workdir
        os.killpg(handle.process.pid, signal.SIGKILL)
        wait_for(in_state(client, run_id, StateType.CRASHED), "the crash to be reported")
        wait_for(lambda: not agent.active, "the agent to reap the run")
    message = state_of(client, run_id).state.message or ""
    assert "exit code -9 (SIGKILL)" in message
    assert not workdir.exists()


def test_a_cancelled_run_is_stopped_and_ends_cancelled(
    client: StratoflowClient, home: Path, tmp_path: Path
) -> None:
    queue = queue_name()
    run_id = start_run(client, tmp_path, queue, "sleepy_flow.py:sleepy", "sleepy")
    with agent_in_thread(client, queue, {**os.environ, "STRATOFLOW_HOME": str(home)}) as agent:
        wait_for(in_state(client, run_id, StateType.RUNNING), "the run to start")
        handle = agent.active[run_id].handle
        assert isinstance(handle, LocalRunHandle)
        client.cancel_flow_run(run_id)
        wait_for(lambda: run_id not in agent.active, "the agent to stop the run")
    assert state_of(client, run_id).state.type is StateType.CANCELLED
    assert handle.process.returncode is not None


@contextmanager
def agent_process(live_api: LiveApi, home: Path, queue: str) -> Iterator[subprocess.Popen[bytes]]:
    """`stratoflow agent start` as a real process; the key travels in its environment."""
    env = {
        **os.environ, "STRATOFLOW_HOME": str(home), "STRATOFLOW_API_URL": live_api.url,
        "STRATOFLOW_API_KEY": live_api.key,
    }  # fmt: skip
    command = [*stratoflow_command(), "agent", "start", "-q", queue, *FAST_FLAGS]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def flow_process_of(agent: subprocess.Popen[bytes]) -> int:
    """The agent's one flow process."""
    wait_for(lambda: bool(children_of(agent.pid)), "a flow process")
    return children_of(agent.pid)[0]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie has exited


def test_sigterm_to_the_agent_leaves_nothing_running(
    live_api: LiveApi, client: StratoflowClient, home: Path, tmp_path: Path
) -> None:
    queue = queue_name()
    run_id = start_run(client, tmp_path, queue, "sleepy_flow.py:sleepy", "sleepy")
    with agent_process(live_api, home, queue) as agent:
        wait_for(in_state(client, run_id, StateType.RUNNING), "the run to start")
        flow_pid = flow_process_of(agent)
        command_line = Path(f"/proc/{flow_pid}/cmdline").read_bytes().decode()
        agent.send_signal(signal.SIGTERM)
        output, _ = agent.communicate(timeout=15)
        assert agent.returncode == 0
    run = state_of(client, run_id)
    assert run.state.type is StateType.CRASHED
    assert not alive(flow_pid)
    assert "execute" in command_line
    assert live_api.key not in command_line
    assert live_api.key not in output.decode()
    assert "shutting down" in output.decode()


def test_when_the_agent_and_its_flow_are_killed_the_zombie_killer_crashes_the_run(
    live_api: LiveApi, client: StratoflowClient, home: Path, tmp_path: Path
) -> None:
    queue = queue_name()
    run_id = start_run(client, tmp_path, queue, "sleepy_flow.py:sleepy", "sleepy")
    with agent_process(live_api, home, queue) as agent:
        wait_for(in_state(client, run_id, StateType.RUNNING), "the run to start")
        flow_pid = flow_process_of(agent)
        os.kill(flow_pid, signal.SIGKILL)
        agent.kill()
        agent.wait(timeout=10)
    wait_for(lambda: not alive(flow_pid), "the flow process to die")
    assert state_of(client, run_id).state.type is StateType.RUNNING  # nobody left to say
    threshold = live_api.settings.zombie_threshold_seconds
    later = utcnow() + timedelta(seconds=threshold + 60)
    report = kill_zombies(live_api.store, live_api.settings, later)
    assert report.zombies_killed == 1
    run = state_of(client, run_id)
    assert run.state.type is StateType.CRASHED
    assert "No heartbeat detected" in (run.state.message or "")
