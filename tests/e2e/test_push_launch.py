"""Push launches on the real local stack (`stratoflow server start` as a process): deployments
made with `stratoflow deploy --infra ecs` and `--infra lambda` are started by their launcher
state machines, executed by moto's Step Functions interpreter, claimed, launched on the
emulated ECS task or runner function, and reach COMPLETED with their task runs and logs;
`stratoflow run` starts one at once and the scheduler dispatches scheduled ones (the flow is
examples/pushed.py). After a restart the machinery is built again (nothing replayed) with a
new launch key."""

from __future__ import annotations

import subprocess
from pathlib import Path
from uuid import UUID

import pytest

from stratoflow.client import StratoflowClient
from stratoflow.schemas import FlowRun, FlowRunFilter, StateType
from tests.e2e.local_stack import STRATOFLOW, ServerProcess, stack_env, start_server, wait_for

pytest.importorskip(
    "stratoflow_functions.launchers.asl", reason="needs the launcher state machines (issue 10, B1)"
)
pytestmark = pytest.mark.slow
DEADLINE = 90.0
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pushed.py"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A flow project to deploy: the push example."""
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "pushed.py").write_text(EXAMPLE.read_text())
    return root


def _server(home: Path, servers: list[ServerProcess], tag: str) -> ServerProcess:
    server = start_server(home, tag, env=stack_env(home, STRATOFLOW_LOCAL_LAUNCHERS="1"))
    servers.append(server)
    return server.wait_ready(timeout=60)


def _cli(home: Path, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [STRATOFLOW, *args], cwd=cwd, env=stack_env(home), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _completed(client: StratoflowClient, run_id: UUID) -> FlowRun:
    def check() -> FlowRun | None:
        run = client.read_flow_run(run_id)
        assert run.state.type not in (StateType.CRASHED, StateType.FAILED), run.state.message
        return run if run.state.type == StateType.COMPLETED else None

    return wait_for(check, DEADLINE, f"flow run {run_id} to complete")


def _run_now(home: Path, project: Path, client: StratoflowClient, name: str) -> FlowRun:
    out = _cli(home, project, "run", f"pushed/{name}")
    run_id = UUID(out.split("(", 1)[1].split(")", 1)[0])
    return _completed(client, run_id)


def _assert_ran(client: StratoflowClient, run: FlowRun) -> None:
    assert [t.state.type for t in client.list_task_runs(run.id).items] == [StateType.COMPLETED]
    assert "pushed hello to world" in _messages(client, run)


def _messages(client: StratoflowClient, run: FlowRun) -> list[str]:
    return [log.message for log in client.list_logs(run.id).items]


def test_ecs_and_lambda_deployments_are_launched_and_complete(
    home: Path, servers: list[ServerProcess], project: Path
) -> None:
    server = _server(home, servers, "push")
    _cli(home, project, "deploy", "flows/pushed.py:pushed", "--name", "ecs", "--infra", "ecs")
    with server.client() as client:
        run = _run_now(home, project, client, "ecs")
        _assert_ran(client, run)
        task_arn = wait_for(  # the claim records the execution, the settle step the task
            lambda: _task_arn(client.read_flow_run(run.id).infrastructure_id),
            DEADLINE,
            "the task ARN",
        )
        assert f"running on {task_arn}" in _messages(client, run)  # the container's environment
        task_id = task_arn.rsplit("/", 1)[-1]
        assert (home / "local" / "containers" / task_id / "output.log").exists()

        _cli(home, project, "deploy", "flows/pushed.py:pushed", "--name", "lambda",
             "--infra", "lambda", "--interval", "10")  # fmt: skip
        deployment = client.read_deployment_by_name("pushed", "lambda")
        scheduled = wait_for(
            lambda: _first_completed(client, deployment.id), DEADLINE, "a scheduled run to complete"
        )
        client.pause_deployment(deployment.id)
        _assert_ran(client, scheduled)
        assert (home / "local" / "runner" / str(scheduled.id) / "output.log").exists()


def _first_completed(client: StratoflowClient, deployment_id: UUID) -> FlowRun | None:
    runs = client.list_flow_runs(FlowRunFilter(deployment_id=deployment_id)).items
    crashed = [run.state.message for run in runs if run.state.type == StateType.CRASHED]
    assert not crashed, crashed
    return next((run for run in runs if run.state.type == StateType.COMPLETED), None)


def test_after_a_restart_the_launchers_are_built_again_with_a_new_launch_key(
    home: Path, servers: list[ServerProcess], project: Path
) -> None:
    server = _server(home, servers, "first")
    _cli(home, project, "deploy", "flows/pushed.py:pushed", "--name", "ecs", "--infra", "ecs")
    with server.client() as client:
        first = _run_now(home, project, client, "ecs")
    assert server.interrupt() == 0
    server = _server(home, servers, "second")
    with server.client() as client:
        second = _run_now(home, project, client, "ecs")
        _assert_ran(client, second)
        assert client.read_flow_run(first.id).state.type == StateType.COMPLETED
        launch_keys = [k for k in client.list_api_keys().items if k.name == "local-launcher"]
    assert sorted(k.revoked for k in launch_keys) == [False, True]  # one live key per start
    assert "Traceback" not in server.output()


def _task_arn(infrastructure_id: str | None) -> str | None:
    """`infrastructure_id` when it is an ECS task ARN, else None."""
    return infrastructure_id if (infrastructure_id or "").startswith("arn:aws:ecs:") else None
