"""The examples run (offline, recorded by the offline orchestrator); SIGTERM mid-flow in a real
subprocess is recorded as CRASHED by the real API over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.runtime import LocalOrchestrator, RuntimeConfig
from stratoflow.schemas import FlowRunFilter, StateType
from tests.fixtures.live_api import LiveApi
from tests.sdk.support import all_task_runs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _import_example(name: str) -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_etl_example_retries_maps_and_runs_a_subflow(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    etl = _import_example("etl")
    assert etl.nightly_etl("2024-06-02") == 2 * sum(i * 10 for i in range(10))  # type: ignore[attr-defined]
    flows = sorted(run.flow_name or "" for run in local.flow_runs.values())
    assert flows == ["nightly-etl", "report"]
    extract = next(t for t in local.task_runs.values() if t.name == "extract-0")
    assert extract.run_count == 2
    assert len([t for t in local.task_runs.values() if t.name.startswith("transform")]) == 10


def test_flaky_example_fails_then_is_retried(
    local: LocalOrchestrator,
    runtime: RuntimeConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLAKY_MARKER_DIR", str(tmp_path))
    flaky = _import_example("flaky_flow")
    assert flaky.flaky("t") == "recovered"  # type: ignore[attr-defined]
    (run,) = local.flow_runs.values()
    names = [state.name for state in local.flow_run_states[run.id]]
    assert names == ["Running", "AwaitingRetry", "Retrying", "Completed"]


def test_every_minute_example_checks_in_and_logs(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    every_minute = _import_example("every_minute")
    line = every_minute.every_minute("lake")  # type: ignore[attr-defined]
    assert line.startswith("lake is healthy at ")
    (run,) = local.flow_runs.values()
    assert run.state.type == "COMPLETED"
    assert [t.name for t in local.task_runs.values()] == ["check_in-0"]


@pytest.mark.slow
def test_sigterm_mid_flow_is_recorded_as_crashed(live_api: LiveApi, tmp_path: Path) -> None:
    env = {**os.environ, "STRATOFLOW_API_URL": live_api.url, "STRATOFLOW_API_KEY": live_api.key,
           "STRATOFLOW_HOME": str(tmp_path)}  # fmt: skip
    settings = ClientSettings(api_url=live_api.url, api_key=live_api.key)
    with StratoflowClient(settings) as client:
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "sleepy_flow.py")], env=env,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stderr is not None
        assert "started" in proc.stderr.readline()
        (run,) = client.list_flow_runs(FlowRunFilter()).items
        deadline = time.monotonic() + 20
        while not all_task_runs(client, run.id) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for the first task record, with a deadline
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM
        crashed = client.read_flow_run(run.id)
    assert crashed.state.type == StateType.CRASHED
    assert "TerminationSignal" in (crashed.state.message or "")
