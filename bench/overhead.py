"""Benchmark: orchestration overhead of 1,000 trivial sequential tasks in one flow.

The same flow runs: as plain Python (the baseline), offline (no API), against the real API
over real HTTP with the control plane in another process on moto (as in the local stack),
and in Prefect 3 (its own venv, `.bench/prefect`, created on first use with Prefect 3 from
PyPI; its ephemeral API server). Overhead = flow wall time minus plain Python time. It also counts
the DynamoDB writes the control plane made for the run, per task state change.

Usage: `make bench` (or `uv run python bench/overhead.py [--tasks 1000] [--no-prefect]`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stratoflow import flow, task

ROOT = Path(__file__).resolve().parent.parent
PREFECT_VENV = ROOT / ".bench" / "prefect"
PREFECT_SPEC = ("prefect==3.9.1",)
"""The same pin as bench/suite.py's (`_servers.PREFECT_SPEC`): one venv, one Prefect."""


@task
def trivial(i: int) -> int:
    """Do nothing worth measuring."""
    return i


@flow
def sequential(n: int) -> int:
    """Call `trivial` n times, one after the other."""
    return sum(trivial(i) for i in range(n))


def plain_seconds(n: int) -> float:
    """The baseline: the same calls with no orchestration."""
    start = time.perf_counter()
    sum(trivial.fn(i) for i in range(n))
    return time.perf_counter() - start


def flow_seconds(n: int) -> float:
    """Wall time of one flow run (settings from the environment)."""
    start = time.perf_counter()
    sequential(n)
    return time.perf_counter() - start


def offline_seconds(n: int) -> float:
    """The flow with no API configured."""
    os.environ.pop("STRATOFLOW_API_URL", None)
    os.environ.pop("STRATOFLOW_API_KEY", None)
    sequential(5)
    return flow_seconds(n)


def api_seconds(n: int) -> tuple[float, dict[str, int]]:
    """The flow against the API in another process; and the DynamoDB writes it caused."""
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "_api_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin
    assert server.stdout
    try:
        ready = json.loads(server.stdout.readline())
        os.environ["STRATOFLOW_API_URL"] = ready["url"]
        os.environ["STRATOFLOW_API_KEY"] = ready["key"]
        sequential(5)
        before = _writes(server)
        seconds = flow_seconds(n)
        after = _writes(server)
    finally:
        server.stdin.close()
        server.wait(30)
    return seconds, {k: after.get(k, 0) - before.get(k, 0) for k in ("requests", "items")}


def _writes(server: subprocess.Popen[str]) -> dict[str, int]:
    assert server.stdin
    assert server.stdout
    server.stdin.write("count\n")
    server.stdin.flush()
    return dict(json.loads(server.stdout.readline()))


def prefect_result(n: int) -> dict[str, Any]:
    """Prefect 3's figures, from its own venv."""
    python = PREFECT_VENV / "bin" / "python"
    if not python.exists():
        uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
        subprocess.run(
            [uv, "venv", "-q", str(PREFECT_VENV), "--python", sys.executable], check=True
        )
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(python), *PREFECT_SPEC], check=True
        )
    env = {**os.environ, "PREFECT_HOME": tempfile.mkdtemp(prefix="prefect-home-")}
    env.pop("STRATOFLOW_API_URL", None)
    out = subprocess.run(
        [str(python), str(ROOT / "bench" / "prefect_sequential.py"), str(n)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def report(n: int, rows: dict[str, float], plain: float, writes: dict[str, int]) -> None:
    """Print the figures and the ratios the targets are stated in."""
    print(f"{n} trivial sequential tasks (plain Python {plain * 1e3:.1f} ms)")
    overheads = {name: seconds - plain for name, seconds in rows.items()}
    for name, seconds in rows.items():
        per_task = overheads[name] / n * 1e6
        print(f"  {name:<28} {seconds:8.3f} s   overhead {per_task:8.1f} µs/task")
    prefect = next((v for k, v in overheads.items() if k.startswith("prefect")), None)
    api = overheads.get("stratoflow, API over HTTP")
    if prefect and api is not None:
        print(f"  overhead ratio, Stratoflow API / Prefect 3: {api / prefect:.3f} (target < 0.2)")
    changes = 2 * n  # every task: PENDING → RUNNING → COMPLETED
    print(
        f"  DynamoDB writes: {writes['requests']} requests, {writes['items']} items for "
        f"{changes} task state changes = {writes['items'] / changes:.3f} items per change "
        "(target <= 1)"
    )


def main() -> None:
    """Run everything and print the report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--no-prefect", action="store_true")
    args = parser.parse_args()
    os.environ["STRATOFLOW_HOME"] = tempfile.mkdtemp(prefix="stratoflow-bench-")
    n = args.tasks
    plain = plain_seconds(n)
    rows = {"stratoflow, offline": offline_seconds(n)}
    seconds, writes = api_seconds(n)
    rows["stratoflow, API over HTTP"] = seconds
    if not args.no_prefect:
        prefect = prefect_result(n)
        rows[f"prefect {prefect['prefect']}, ephemeral API"] = prefect["seconds"] + (
            plain - prefect["plain"]
        )
    report(n, rows, plain, writes)


if __name__ == "__main__":
    main()
