"""The built wheels, installed in a clean virtual environment, run the local stack.

What a user gets from `pip install stratoflow stratoflow-functions stratoflow-agents`: the
wheels are built from this tree (`uv build`), installed with pip into a new venv (their
dependencies come from PyPI), and `stratoflow server start` runs from it with a clean
environment. Without the `local` extra it must say which extra to install (exit 1, no
traceback); with it, the stack serves `/health` and stops on SIGINT with exit 0.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("stratoflow", "stratoflow_functions", "stratoflow_agents")
EXTRA_HINT = "pip install 'stratoflow-functions[local]'"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _uv() -> str:
    return os.environ.get("UV") or shutil.which("uv") or str(ROOT / ".tools/bin/uv")


def _build_wheels(out: Path) -> dict[str, Path]:
    """The workspace's wheels, built as README says; the three a user installs, by name."""
    subprocess.run(
        [_uv(), "build", "--all-packages", "--wheel", "--quiet", "-o", str(out)],
        cwd=ROOT, check=True, timeout=300,
    )  # fmt: skip
    return {name: next(out.glob(f"{name}-*.whl")) for name in PACKAGES}


def _install_env() -> dict[str, str]:
    """The caller's environment (proxies, certificates) without this workspace's venv."""
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "UV_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _pip_install(venv: Path, *requirements: str) -> float:
    """Install into `venv` with pip; returns the seconds it took."""
    began = time.monotonic()
    subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", *requirements],
        check=True, timeout=600, env=_install_env(),
    )  # fmt: skip
    return time.monotonic() - began


def _user_env(venv: Path, home: Path) -> dict[str, str]:
    """A user's shell with only the venv on PATH and a fresh STRATOFLOW_HOME."""
    path = os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"])
    return {"PATH": path, "HOME": str(home), "STRATOFLOW_HOME": str(home / ".stratoflow")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[str], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-3000:]
        try:
            # A generous read timeout: a client that gives up mid-answer is another test's case.
            if httpx.get(f"{url}/health", timeout=30).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # poll interval while the stack starts, bounded by the deadline
    raise AssertionError(f"{url}/health did not answer 200 within {deadline_s} s")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three wheels a user installs."""
    return _build_wheels(tmp_path_factory.mktemp("dist"))


def test_the_server_from_the_built_wheels_names_its_extra_then_runs_and_stops_cleanly(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True, timeout=120)
    base_s = _pip_install(venv, *map(str, wheels.values()))
    env = _user_env(venv, tmp_path / "home")
    stratoflow = str(venv / "bin/stratoflow")

    refused = subprocess.run(
        [stratoflow, "server", "start", "--port", str(_free_port())],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert EXTRA_HINT in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    listed = subprocess.run(
        [stratoflow, "--help"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "server" in listed.stdout

    extra_s = _pip_install(venv, f"{wheels['stratoflow_functions']}[local]")
    print(f"pip install: wheels {base_s:.0f} s, [local] extra {extra_s:.0f} s")
    port = _free_port()
    process = subprocess.Popen(
        [stratoflow, "server", "start", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process, deadline_s=120)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr[-3000:]
    assert f"ready at http://127.0.0.1:{port}" in stdout
    assert "Traceback" not in stderr, stderr
