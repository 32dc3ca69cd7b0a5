"""`stratoflow run DEPLOYMENT [--watch]`: the run is executed by a real `stratoflow execute`
process (as an agent would start it), fetching the deployment's bundle from moto's S3."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

from click.testing import Result

from stratoflow.client import StratoflowClient, load_client_settings
from stratoflow.schemas import FlowRunFilter, StateType
from tests.cli.conftest import STRATOFLOW, Invoke, execute_env
from tests.fixtures.live_api import LiveApi

DEADLINE_SECONDS = 60.0


def _client(live_api: LiveApi) -> StratoflowClient:
    return StratoflowClient(load_client_settings(api_url=live_api.url, api_key=live_api.key))


def _deploy(invoke: Invoke, entrypoint: str, name: str, *args: str) -> None:
    result = invoke("deploy", entrypoint, "--name", name, *args)
    assert result.exit_code == 0, result.output


def _wait_for_run(client: StratoflowClient, deployment_id: UUID) -> UUID:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        runs = client.list_flow_runs(FlowRunFilter(deployment_id=deployment_id)).items
        if runs:
            return runs[0].id
        time.sleep(0.05)
    raise AssertionError("`stratoflow run` created no flow run")


def _watch_while_executing(
    invoke: Invoke, live_api: LiveApi, api_env: dict[str, str], ref: str, *params: str
) -> tuple[Result, subprocess.CompletedProcess[str], UUID]:
    """`run REF --watch` in a thread; once its run exists, execute it in a subprocess."""
    flow_name, name = ref.split("/")
    with _client(live_api) as client, ThreadPoolExecutor(1) as pool:
        deployment = client.read_deployment_by_name(flow_name, name)
        watching = pool.submit(invoke, "run", ref, *params, "--watch")
        run_id = _wait_for_run(client, deployment.id)
        workdir = Path(api_env["STRATOFLOW_HOME"]).parent / "agent-workdir"  # not the project
        workdir.mkdir()
        executed = subprocess.run(
            [STRATOFLOW, "execute", str(run_id)], cwd=workdir, env=execute_env(api_env),
            capture_output=True, text=True, timeout=DEADLINE_SECONDS, check=False,
        )  # fmt: skip
        return watching.result(timeout=DEADLINE_SECONDS), executed, run_id


def test_run_watch_follows_an_executed_run_to_completed_and_exits_0(
    invoke: Invoke, live_api: LiveApi, api_env: dict[str, str], s3: Any, project: Path
) -> None:
    _deploy(invoke, "flows/hello.py:hello", "prod", "--param", "name=ada")
    watched, executed, run_id = _watch_while_executing(
        invoke, live_api, api_env, "hello/prod", "--param", "times=2"
    )
    assert executed.returncode == 0, executed.stderr
    assert watched.exit_code == 0, watched.output
    assert "state Completed" in watched.output  # intermediate states may pass between polls
    assert "saying hello to ada x2" in watched.output  # a log line, streamed
    assert watched.output.rstrip().endswith("ended Completed")
    with _client(live_api) as client:
        run = client.read_flow_run(run_id)
        assert run.state.type == StateType.COMPLETED
        assert run.parameters == {"name": "ada", "times": 2}
        assert [t.state.type for t in client.list_task_runs(run_id).items] == ["COMPLETED"]


def test_run_watch_of_a_failing_flow_exits_1(
    invoke: Invoke, live_api: LiveApi, api_env: dict[str, str], s3: Any, project: Path
) -> None:
    _deploy(invoke, "flows/broken.py:broken", "prod")
    watched, executed, _ = _watch_while_executing(invoke, live_api, api_env, "broken/prod")
    assert executed.returncode == 1, executed.stderr
    assert watched.exit_code == 1, watched.output
    assert "this flow always fails" in watched.output
    assert watched.output.rstrip().endswith("ended Failed")


def test_run_without_watch_creates_a_scheduled_run_and_returns(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path
) -> None:
    _deploy(invoke, "flows/hello.py:hello", "prod", "--param", "name=ada")
    with _client(live_api) as client:
        deployment = client.read_deployment_by_name("hello", "prod")
        result = invoke("run", str(deployment.id), "--param", "name=bob")
        assert result.exit_code == 0, result.output
        runs = client.list_flow_runs(FlowRunFilter(deployment_id=deployment.id)).items
    assert len(runs) == 1
    assert runs[0].state.type == StateType.SCHEDULED
    assert runs[0].parameters == {"name": "bob"}
    assert f"stratoflow runs logs {runs[0].id} --follow" in result.output


def test_run_of_an_unknown_or_malformed_deployment_exits_2(invoke: Invoke) -> None:
    unknown = invoke("run", "hello/nope")
    assert unknown.exit_code == 2
    assert "running hello/nope: not found" in unknown.output
    malformed = invoke("run", "just-a-name")
    assert malformed.exit_code == 2
    assert "expected FLOW/NAME or a deployment id" in malformed.output
    bad_param = invoke("run", "hello/prod", "--param", "=1")
    assert bad_param.exit_code == 2
    assert "invalid --param '=1'" in bad_param.output


def test_run_with_a_parameter_the_flow_cannot_take_exits_2_and_writes_no_run(
    invoke: Invoke, project: Path, live_api: LiveApi
) -> None:
    _deploy(invoke, "flows/hello.py:hello", "prod")
    with _client(live_api) as client:
        deployment = client.read_deployment_by_name("hello", "prod")
        assert deployment.flow_version  # the flow's code hash, recorded by deploy
        assert deployment.parameter_schema is not None
        assert deployment.parameter_schema["properties"]["times"]["type"] == "integer"
        bad = invoke("run", "hello/prod", "--param", "times=notanint")
        assert bad.exit_code == 2, bad.output
        assert "times: expected integer" in bad.output
        extra = invoke("run", "hello/prod", "--param", "tims=2")
        assert extra.exit_code == 2
        assert "tims: unexpected parameter" in extra.output
        assert client.list_flow_runs(FlowRunFilter(deployment_id=deployment.id)).items == []
        good = invoke("run", "hello/prod", "--param", "times=2")
        assert good.exit_code == 0, good.output
        runs = client.list_flow_runs(FlowRunFilter(deployment_id=deployment.id)).items
        assert [run.flow_version for run in runs] == [deployment.flow_version]
