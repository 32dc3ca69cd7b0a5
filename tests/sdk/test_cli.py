"""The CLI against the fake API served over HTTP: tables, exit codes, execute."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from click.testing import CliRunner, Result

from stratoflow.cli import cli
from stratoflow.schemas import (
    CodeBundle,
    Deployment,
    FlowCreate,
    FlowRunCreate,
    LogCreate,
    RetryPolicy,
    State,
    StateProposal,
    StateType,
    utcnow,
)
from tests.sdk.fake_api import API_KEY, FakeApi, serve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def url(api: FakeApi) -> Iterator[str]:
    with serve(api) as base:
        yield base


def _run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--api-url", url, "--api-key", API_KEY, *args], obj={})


def _flow_run(api: FakeApi, name: str = "etl", state: StateType = StateType.PENDING) -> UUID:
    flow = api.store.create_flow(FlowCreate(name=name))
    run = api.store.create_flow_run(FlowRunCreate(flow_id=flow.id, state=State(type=state)))
    return run.id


def test_runs_ls_prints_a_table_filtered_by_state(api: FakeApi, url: str) -> None:
    running = _flow_run(api, state=StateType.RUNNING)
    pending = _flow_run(api)
    result = _run(url, "runs", "ls", "--state", "running")
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


def test_runs_ls_unknown_flow_name_exits_2(url: str) -> None:
    result = _run(url, "runs", "ls", "--flow", "nope")
    assert result.exit_code == 2
    assert "no flow named 'nope'" in result.output


def test_runs_show_prints_the_run_and_its_task_runs(api: FakeApi, url: str) -> None:
    run_id = _flow_run(api)
    result = _run(url, "runs", "show", str(run_id))
    assert result.exit_code == 0, result.output
    assert "state       Pending" in result.output
    assert "TASK RUN" in result.output


def test_runs_show_bad_and_unknown_ids_exit_2_without_traceback(url: str) -> None:
    bad = _run(url, "runs", "show", "not-a-uuid")
    unknown = _run(url, "runs", "show", str(uuid4()))
    assert (bad.exit_code, unknown.exit_code) == (2, 2)
    assert "invalid run id" in bad.output
    assert "not found" in unknown.output
    assert "Traceback" not in bad.output + unknown.output


def test_runs_logs_prints_lines_in_order(api: FakeApi, url: str) -> None:
    run_id = _flow_run(api)
    api.store.write_logs([LogCreate(flow_run_id=run_id, message=f"line {i}") for i in range(3)])
    result = _run(url, "runs", "logs", str(run_id))
    assert result.exit_code == 0, result.output
    assert [line.split(" | ")[-1] for line in result.output.splitlines()] == [
        "line 0",
        "line 1",
        "line 2",
    ]


def test_runs_logs_follow_stops_when_the_run_ends(api: FakeApi, url: str) -> None:
    run_id = _flow_run(api, state=StateType.RUNNING)
    api.store.write_logs([LogCreate(flow_run_id=run_id, message="only line")])
    api.store.set_flow_run_state(run_id, StateProposal(state=State(type=StateType.COMPLETED)))
    result = _run(url, "runs", "logs", str(run_id), "--follow")
    assert result.exit_code == 0
    assert result.output.count("only line") == 1


def test_runs_cancel_moves_a_running_run_to_cancelling(api: FakeApi, url: str) -> None:
    run_id = _flow_run(api, state=StateType.RUNNING)
    result = _run(url, "runs", "cancel", str(run_id))
    assert result.exit_code == 0, result.output
    assert api.store.flow_runs[run_id].state.type == StateType.CANCELLING


def test_no_api_configured_exits_2_with_a_message() -> None:
    result = CliRunner().invoke(cli, ["runs", "ls"], obj={})
    assert result.exit_code == 2
    assert "STRATOFLOW_API_URL" in result.output


def _deployment_run(
    api: FakeApi, entrypoint: str, code: CodeBundle | None, **params: object
) -> UUID:
    flow = api.store.create_flow(FlowCreate(name="deployed"))
    now = utcnow()
    deployment = Deployment(
        id=uuid4(), flow_id=flow.id, flow_name=flow.name, name="nightly", entrypoint=entrypoint,
        code=code, created=now, updated=now,
    )  # fmt: skip
    api.deployments[deployment.id] = deployment
    run = api.store.create_flow_run(FlowRunCreate(flow_id=flow.id, parameters=dict(params)))
    api.store.flow_runs[run.id] = run.model_copy(update={"deployment_id": deployment.id})
    return run.id


def _bundle(tmp_path: Path) -> CodeBundle:
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.write(EXAMPLES / "etl.py", "flows/etl.py")
    return CodeBundle(uri=path.as_uri(), sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def test_execute_runs_a_deployment_from_a_zip_bundle_and_exits_0(
    api: FakeApi, url: str, tmp_path: Path
) -> None:
    run_id = _deployment_run(api, "flows/etl.py:nightly_etl", _bundle(tmp_path), day="2024-06-03")
    result = _run(url, "execute", str(run_id))
    assert result.exit_code == 0, result.output
    assert api.store.flow_runs[run_id].state.type == StateType.COMPLETED
    assert "ended Completed" in result.output


def test_execute_failed_run_exits_1_and_leaves_the_retry_to_the_server(
    api: FakeApi, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLES.parent)
    monkeypatch.setenv("FLAKY_MARKER_DIR", str(tmp_path))
    run_id = _deployment_run(api, "examples/flaky_flow.py:flaky", None)
    api.store.flow_runs[run_id] = api.store.flow_runs[run_id].model_copy(
        update={"retry_policy": RetryPolicy(retries=0)}
    )
    result = _run(url, "execute", str(run_id))
    assert result.exit_code == 1, result.output
    assert api.store.flow_runs[run_id].state.type in (StateType.FAILED, StateType.SCHEDULED)


def test_execute_bad_entrypoint_exits_2(api: FakeApi, url: str, tmp_path: Path) -> None:
    run_id = _deployment_run(api, "flows/missing.py:nope", _bundle(tmp_path))
    result = _run(url, "execute", str(run_id))
    assert result.exit_code == 2
    assert "flows/missing.py" in result.output
