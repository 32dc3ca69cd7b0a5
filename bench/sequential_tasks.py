"""Benchmark: orchestration overhead of 1,000 trivial sequential tasks in one flow.

Runs the same flow three ways and prints seconds per run and per task, and the API calls made:
offline (in-memory), and against the real API handler in-process over moto DynamoDB (the same
code path Lambda runs, minus the network). Compare with Prefect 3 by running
`bench/prefect_sequential.py` in an environment that has Prefect (not a dependency here).

Usage: `uv run python bench/sequential_tasks.py [--tasks 1000]`
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from stratoflow import flow, task
from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.runtime import LocalOrchestrator, RuntimeConfig, use_runtime
from stratoflow.runtime.results import LocalResultStore


@task
def trivial(i: int) -> int:
    """Do nothing worth measuring."""
    return i


@flow
def sequential(n: int) -> int:
    """Call `trivial` n times, one after the other."""
    return sum(trivial(i) for i in range(n))


def _plain(n: int) -> float:
    start = time.perf_counter()
    sum(trivial.fn(i) for i in range(n))
    return time.perf_counter() - start


def _timed(config: RuntimeConfig, n: int) -> float:
    with use_runtime(config):
        start = time.perf_counter()
        sequential(n)
        return time.perf_counter() - start


def _real_api_client(calls: Counter[str]) -> StratoflowClient:
    from moto import mock_aws

    from stratoflow.schemas import ApiKeyCreate, ApiKeyScope, utcnow
    from stratoflow_functions.api import ApiApp, ApiDeps
    from stratoflow_functions.config import Settings
    from stratoflow_functions.local.transport import ApiTransport
    from stratoflow_functions.services.api_keys import create_api_key
    from stratoflow_functions.store import build_store, create_table

    mock_aws().start()
    settings = Settings(table_name="stratoflow-bench")
    create_table(settings)
    store = build_store(settings)
    app = ApiApp(ApiDeps(store=store, settings=settings, clock=utcnow))
    key = create_api_key(store, ApiKeyCreate(name="bench", scope=ApiKeyScope.ADMIN), utcnow()).key
    inner = ApiTransport(app)

    class Counting(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            calls[f"{request.method} {request.url.path.split('/')[1]}"] += 1
            return inner.handle_request(request)

    return StratoflowClient(
        ClientSettings(api_url="http://bench", api_key=key), transport=Counting()
    )


def main() -> None:
    """Run the benchmark and print a small report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    n = parser.parse_args().tasks
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        os.environ.setdefault(name, value)  # moto only: never a real account
    results = LocalResultStore(Path(tempfile.mkdtemp()))
    baseline = _plain(n)
    offline = _timed(RuntimeConfig(LocalOrchestrator(), results, console=False), n)
    calls: Counter[str] = Counter()
    real = _timed(RuntimeConfig(_real_api_client(calls), results, console=False), n)
    print(f"{n} trivial sequential tasks")
    print(f"  plain python       {baseline:8.3f}s")
    for label, seconds in (("offline", offline), ("real API (moto)", real)):
        per_task = (seconds - baseline) / n * 1e6
        print(f"  {label:<18} {seconds:8.3f}s  overhead {per_task:8.1f} µs/task")
    print(f"  API calls: {dict(calls)}")


if __name__ == "__main__":
    main()
