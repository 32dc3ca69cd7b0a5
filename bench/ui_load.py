"""Benchmark: the dashboard's runs page over a store of N flow runs (default 10,000).

Starts a local stack in this process (no agent, no push launchers), fills its store with N
finished runs of one deployment spread over the last 7 days, written through the store's own
create path (`store.flow_runs.create`, threads; the same items, history and counters an API
create writes), then opens `/ui#/runs` in headless Debian chromium 5 times, each in a fresh
browser context (no cache), and reports the median time from navigation to the runs table and
the counts rendered, with the API calls the page made (path, status, time).

Usage: `make bench-ui [UI_RUNS=10000]` or `uv run python bench/ui_load.py [--runs N] [--loads 5]`.
Needs `chromium` on PATH (`apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from playwright.sync_api import Browser, sync_playwright

from stratoflow.client import StratoflowClient, load_client_settings
from stratoflow.client.errors import RequestTimeoutError
from stratoflow.schemas import DeploymentCreate, FlowCreate, FlowRun, State, StateType
from stratoflow_functions.config import load_settings
from stratoflow_functions.local.cli import emulator_environment, options_from_env
from stratoflow_functions.local.stack import LocalStack
from stratoflow_functions.store import Store, build_store

STATES = [(StateType.COMPLETED, "Completed")] * 8 + [
    (StateType.FAILED, "Failed"),
    (StateType.CANCELLED, "Cancelled"),
]
KEY = "stratoflow.api_key"
RENDERED = """() => new Promise((resolve) => {
  const found = (selector) => document.querySelector(selector) !== null;
  const done = () => found("table.runs tbody tr") && found("ul.counts")
    && document.querySelector('svg[aria-label^="Runs over time"]');
  const check = () => (done() ? resolve(performance.now()) : requestAnimationFrame(check));
  check();
})"""
WRITERS = int(os.environ.get("BENCH_WRITERS", "3"))


@dataclasses.dataclass
class Stack:
    """The in-process stack: its API URL and key, and a store over its emulator."""

    url: str
    key: str
    store: Store
    settings: Any
    env: dict[str, str]


@contextmanager
def local_stack(home: Path, compact_after: int | None = 10**9) -> Iterator[Stack]:
    """A local stack in this process (the emulator's credentials stay in this process);
    `compact_after` None: the stack's default compaction, as a user's home gets."""
    user_env = {**os.environ, "STRATOFLOW_HOME": str(home), "STRATOFLOW_LOCAL_AGENT": "0",
                "STRATOFLOW_LOCAL_LAUNCHERS": "0"}  # fmt: skip
    if compact_after is not None:
        user_env["STRATOFLOW_LOCAL_COMPACT_AFTER"] = str(compact_after)
    settings = load_settings(user_env)
    stack = LocalStack(options_from_env(user_env, "127.0.0.1", 0), settings)
    stack.bind()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(emulator_environment(user_env, settings.region, stack.emulator.credentials))
    try:
        info = stack.start()
        store_settings = dataclasses.replace(settings, aws_endpoint_url=stack.emulator.url)
        yield Stack(info.api_url, info.api_key, build_store(store_settings), store_settings,
                    dict(os.environ))  # fmt: skip
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)


def finished_run(flow_id: UUID, deployment_id: UUID, i: int, now: datetime) -> FlowRun:
    """The i-th run: expected start spread over 7 days, 1-120 s long, mostly completed."""
    start = now - timedelta(seconds=(i * 7919) % (7 * 86400) + 60)
    end = start + timedelta(seconds=1 + i % 120)
    state_type, name = STATES[i % len(STATES)]
    return FlowRun(
        id=uuid4(), name=f"bench-{i:05d}", flow_id=flow_id, flow_name="bench-ui",
        deployment_id=deployment_id, state=State(type=state_type, name=name, timestamp=end),
        run_count=1, work_queue="default", tags=[f"batch-{i % 10}"], expected_start_time=start,
        start_time=start, end_time=end, created=start - timedelta(seconds=1), updated=end,
    )  # fmt: skip


def fill(stack: Stack, runs: int) -> float:
    """Write `runs` runs through the store; the seconds it took."""
    client = StratoflowClient(load_client_settings(api_url=stack.url, api_key=stack.key))
    flow = client.create_flow(FlowCreate(name="bench-ui"))
    deployment = client.create_deployment(
        DeploymentCreate(flow_id=flow.id, name="bench", entrypoint="bench.py:bench")
    )
    client.close()
    now = datetime.now(UTC)
    begin = time.perf_counter()
    # Writers in processes of their own (the emulator, in this process, keeps one core busy;
    # the client side of each write, serialising and signing, runs beside it).
    chunks = [range(i, min(i + 500, runs)) for i in range(0, runs, 500)]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WRITERS, mp_context=spawn, initializer=_writer_init,
                             initargs=(stack.settings, stack.env)) as pool:  # fmt: skip
        made = pool.map(_write, [(flow.id, deployment.id, chunk, now) for chunk in chunks])
        assert sum(made) == runs
    return time.perf_counter() - begin


_store: Store | None = None


def _writer_init(settings: Any, env: dict[str, str]) -> None:
    global _store
    os.environ.update(env)
    _store = build_store(settings)


def _write(job: tuple[UUID, UUID, range, datetime]) -> int:
    flow_id, deployment_id, chunk, now = job
    assert _store is not None
    return sum(_store.flow_runs.create(finished_run(flow_id, deployment_id, i, now))[1]
               for i in chunk)  # fmt: skip


def settled(stack: Stack, runs: int, timeout: float = 1800) -> float:
    """Seconds until `/flow-runs/stats` counts every run (the stream consumer has caught up)."""
    client = StratoflowClient(load_client_settings(api_url=stack.url, api_key=stack.key))
    begin, now = time.perf_counter(), datetime.now(UTC)
    try:
        while True:
            try:
                stats = client.flow_run_stats(now - timedelta(days=7, hours=1), now)
            except RequestTimeoutError:  # a busy stack (the consumer catching up) is not done
                stats = None
            if stats is not None and sum(stats.by_state.values()) >= runs:
                return time.perf_counter() - begin
            if time.perf_counter() - begin > timeout:
                sys.exit(f"the stats never counted {runs} runs")
            time.sleep(0.5)  # a poll interval
    finally:
        client.close()


def load_once(browser: Browser, stack: Stack) -> tuple[float, list[dict[str, Any]]]:
    """One cold load of the runs page: ms to the table and counts, and the API calls made."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(f"sessionStorage.setItem({KEY!r}, {stack.key!r})")
    requests: list[Any] = []
    page = context.new_page()
    page.on("requestfinished", lambda request: requests.append(request))
    page.goto(f"{stack.url}/ui#/runs")
    # Rendered: a row of the table, the counts and the chart (ms since navigation start).
    elapsed: float = page.evaluate(RENDERED)
    rows = page.locator("table.runs tbody tr").count()
    assert rows >= 1, rows
    calls = []
    for request in requests:
        path = urlsplit(request.url).path
        if not path.startswith("/ui"):
            timing = request.timing
            calls.append(
                {"path": path, "ms": round(timing["responseEnd"] - timing["requestStart"], 1)}
            )
    context.close()
    return elapsed, calls


def measure(stack: Stack, loads: int) -> tuple[list[float], list[dict[str, Any]]]:
    """`loads` cold loads; their times and the last load's API calls."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("no chromium on PATH: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            load_once(browser, stack)  # warm the server (imports, first queries), not measured
            results = [load_once(browser, stack) for _ in range(loads)]
        finally:
            browser.close()
    return [ms for ms, _ in results], results[-1][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, local_stack(Path(home) / "home") as stack:
        print(f"filling the store with {args.runs:,} runs...", flush=True)
        seconds = fill(stack, args.runs)
        print(f"  {seconds:.1f} s ({args.runs / seconds:,.0f} runs/s, store.flow_runs.create)")
        print(f"  counted by /flow-runs/stats after {settled(stack, args.runs):.1f} s more")
        times, calls = measure(stack, args.loads)
    print(f"runs page, {args.loads} cold loads: median {statistics.median(times):.0f} ms "
          f"(min {min(times):.0f}, max {max(times):.0f})")  # fmt: skip
    print(f"API calls of one load ({len(calls)}):")
    for call in calls:
        print(f"  {call['path']}: {call['ms']} ms")


if __name__ == "__main__":
    main()
