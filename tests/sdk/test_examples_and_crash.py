"""The examples run; SIGTERM mid-flow in a real subprocess is recorded as CRASHED."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stratoflow.runtime import RuntimeConfig
from stratoflow.schemas import StateType
from tests.sdk.fake_api import API_KEY, FakeApi, serve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _import_example(name: str) -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_etl_example_retries_maps_and_runs_a_subflow(api: FakeApi, runtime: RuntimeConfig) -> None:
    etl = _import_example("etl")
    assert etl.nightly_etl("2024-06-02") == 2 * sum(i * 10 for i in range(10))  # type: ignore[attr-defined]
    flows = sorted(run.flow_name or "" for run in api.store.flow_runs.values())
    assert flows == ["nightly-etl", "report"]
    extract = next(t for t in api.store.task_runs.values() if t.name == "extract-0")
    assert extract.run_count == 2
    assert len([t for t in api.store.task_runs.values() if t.name.startswith("transform")]) == 10


def test_flaky_example_fails_then_is_retried(
    api: FakeApi, runtime: RuntimeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLAKY_MARKER_DIR", str(tmp_path))
    flaky = _import_example("flaky_flow")
    assert flaky.flaky("t") == "recovered"  # type: ignore[attr-defined]
    (run,) = api.store.flow_runs.values()
    names = [state.name for state in api.store.flow_run_states[run.id]]
    assert names == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]


def test_every_minute_example_checks_in_and_logs(api: FakeApi, runtime: RuntimeConfig) -> None:
    every_minute = _import_example("every_minute")
    line = every_minute.every_minute("lake")  # type: ignore[attr-defined]
    assert line.startswith("lake is healthy at ")
    (run,) = api.store.flow_runs.values()
    assert run.state.type == "COMPLETED"
    assert [t.name for t in api.store.task_runs.values()] == ["check_in-0"]


@pytest.mark.slow
def test_sigterm_mid_flow_is_recorded_as_crashed(api: FakeApi, tmp_path: Path) -> None:
    with serve(api) as url:
        env = {**os.environ, "STRATOFLOW_API_URL": url, "STRATOFLOW_API_KEY": API_KEY,
               "STRATOFLOW_HOME": str(tmp_path)}  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "sleepy_flow.py")], env=env,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stderr is not None
        assert "started" in proc.stderr.readline()
        deadline = time.monotonic() + 20
        while not api.store.task_runs and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for the first task record, with a deadline
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM
    (run,) = api.store.flow_runs.values()
    assert run.state.type == StateType.CRASHED
    assert "TerminationSignal" in (run.state.message or "")
