"""The CLI against the real API over HTTP: tables, exit codes, execute."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from click.testing import CliRunner, Result

from stratoflow.cli import cli
from stratoflow.client import StratoflowClient
from stratoflow.deploy.bundle import PackedBundle
from stratoflow.deploy.deployer import upload_bundle
from stratoflow.schemas import (
    CodeBundle,
    DeploymentCreate,
    DeploymentRunCreate,
    FlowCreate,
    FlowRunCreate,
    FlowRunHeartbeat,
    LogCreate,
    State,
    StateName,
    StateProposal,
    StateType,
)
from tests.fixtures.live_api import LiveApi

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def url(shared_api: LiveApi) -> str:
    return shared_api.url


@pytest.fixture
def key(shared_api: LiveApi) -> str:
    return shared_api.key


def _run(url: str, key: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--api-url", url, "--api-key", key, *args], obj={})


def _flow_run(client: StratoflowClient, state: StateType = StateType.PENDING) -> UUID:
    flow = client.create_flow(FlowCreate(name=f"etl-{uuid4().hex[:8]}"))
    return client.create_flow_run(FlowRunCreate(flow_id=flow.id, state=State(type=state))).id


def test_runs_ls_prints_a_table_filtered_by_state(
    client: StratoflowClient, url: str, key: str
) -> None:
    running = _flow_run(client, state=StateType.RUNNING)
    pending = _flow_run(client)
    result = _run(url, key, "runs", "ls", "--state", "running")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == [
        "ID",
        "NAME",
        "FLOW",
        "STATE",
        "STARTED",
        "DURATION",
    ]
    assert str(running) in result.output
    assert str(pending) not in result.output


def test_runs_ls_unknown_flow_name_exits_2(url: str, key: str) -> None:
    result = _run(url, key, "runs", "ls", "--flow", "nope")
    assert result.exit_code == 2
    assert "no flow named 'nope'" in result.output


def test_runs_show_prints_the_run_and_its_task_runs(
    client: StratoflowClient, url: str, key: str
) -> None:
    run_id = _flow_run(client)
    result = _run(url, key, "runs", "show", str(run_id))
    assert result.exit_code == 0, result.output
    assert "state       Pending" in result.output
    assert "runs on     -" in result.output
    assert "TASK RUN" in result.output


def test_runs_show_says_what_the_run_runs_on(client: StratoflowClient, url: str, key: str) -> None:
    run_id = _flow_run(client, state=StateType.RUNNING)
    client.heartbeat_flow_run(run_id, FlowRunHeartbeat(infrastructure_id="jobs/run-1a2b"))
    result = _run(url, key, "runs", "show", str(run_id))
    assert result.exit_code == 0, result.output
    assert "runs on     jobs/run-1a2b" in result.output


def test_runs_show_bad_and_unknown_ids_exit_2_without_traceback(url: str, key: str) -> None:
    bad = _run(url, key, "runs", "show", "not-a-uuid")
    unknown = _run(url, key, "runs", "show", str(uuid4()))
    assert (bad.exit_code, unknown.exit_code) == (2, 2)
    assert "invalid run id" in bad.output
    assert "not found" in unknown.output
    assert "Traceback" not in bad.output + unknown.output


def test_runs_logs_prints_lines_in_order(client: StratoflowClient, url: str, key: str) -> None:
    run_id = _flow_run(client)
    client.write_logs([LogCreate(flow_run_id=run_id, message=f"line {i}") for i in range(3)])
    result = _run(url, key, "runs", "logs", str(run_id))
    assert result.exit_code == 0, result.output
    assert [line.split(" | ")[-1] for line in result.output.splitlines()] == [
        "line 0",
        "line 1",
        "line 2",
    ]


def test_runs_logs_follow_stops_when_the_run_ends(
    client: StratoflowClient, url: str, key: str
) -> None:
    run_id = _flow_run(client, state=StateType.RUNNING)
    client.write_logs([LogCreate(flow_run_id=run_id, message="only line")])
    client.set_flow_run_state(run_id, StateProposal(state=State(type=StateType.COMPLETED)))
    result = _run(url, key, "runs", "logs", str(run_id), "--follow")
    assert result.exit_code == 0
    assert result.output.count("only line") == 1


def test_runs_cancel_moves_a_running_run_to_cancelling(
    client: StratoflowClient, url: str, key: str
) -> None:
    run_id = _flow_run(client, state=StateType.RUNNING)
    result = _run(url, key, "runs", "cancel", str(run_id))
    assert result.exit_code == 0, result.output
    assert client.read_flow_run(run_id).state.type == StateType.CANCELLING


def test_no_api_configured_exits_2_with_a_message() -> None:
    result = CliRunner().invoke(cli, ["runs", "ls"], obj={})
    assert result.exit_code == 2
    assert "STRATOFLOW_API_URL" in result.output


def _deployment_run(
    client: StratoflowClient, entrypoint: str, code: CodeBundle | None, **params: object
) -> UUID:
    flow = client.create_flow(FlowCreate(name=f"deployed-{uuid4().hex[:8]}"))
    deployment = client.create_deployment(
        DeploymentCreate(flow_id=flow.id, name="nightly", entrypoint=entrypoint, code=code)
    )
    return client.create_deployment_run(deployment.id, DeploymentRunCreate(parameters=params)).id


def _bundle(client: StratoflowClient) -> CodeBundle:
    """The etl example as a code bundle, stored through the API in its code bucket."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as bundle:
        bundle.write(EXAMPLES / "etl.py", "flows/etl.py")
    packed = data.getvalue()
    sha256 = hashlib.sha256(packed).hexdigest()
    code, _ = upload_bundle(
        client, PackedBundle(data=packed, sha256=sha256, files=("flows/etl.py",))
    )
    return code


def test_execute_runs_a_deployment_from_a_zip_bundle_and_exits_0(
    client: StratoflowClient, url: str, key: str
) -> None:
    run_id = _deployment_run(client, "flows/etl.py:nightly_etl", _bundle(client), day="2024-06-03")
    result = _run(url, key, "execute", str(run_id))
    assert result.exit_code == 0, result.output
    assert client.read_flow_run(run_id).state.type == StateType.COMPLETED
    assert "ended Completed" in result.output


def test_execute_failed_run_exits_1_and_leaves_the_retry_to_the_server(
    client: StratoflowClient, url: str, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLES.parent)
    monkeypatch.setenv("FLAKY_MARKER_DIR", str(tmp_path))
    run_id = _deployment_run(client, "examples/flaky_flow.py:flaky", None)
    result = _run(url, key, "execute", str(run_id))
    assert result.exit_code == 1, result.output
    state = client.read_flow_run(run_id).state
    assert (state.type, state.name) == (StateType.SCHEDULED, StateName.AWAITING_RETRY)


def test_execute_bad_entrypoint_exits_2(client: StratoflowClient, url: str, key: str) -> None:
    run_id = _deployment_run(client, "flows/missing.py:nope", _bundle(client))
    result = _run(url, key, "execute", str(run_id))
    assert result.exit_code == 2
    assert "flows/missing.py" in result.output
    assert client.read_flow_run(run_id).state.type == StateType.FAILED
