"""Prefect 3's side of each benchmark workload (the same workloads as `_sf_work.py`), run in
`.bench/prefect` against a running `prefect server start` (PREFECT_API_URL). Public interfaces
only: `@flow`, `@task`, `.serve()` and Prefect's client API.

Usage: `python _pf_work.py WORKLOAD JSON_ARGS`; prints one JSON line of figures, with
`client_peak_mib` (this process's peak RSS) and `prefect` (its version).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import __version__, flow, task
from prefect.client.orchestration import get_client


@task
def trivial(i: int) -> int:
    """Do nothing worth measuring."""
    return i


@flow
def sequential(n: int) -> int:
    """n tasks, one after the other."""
    return sum(trivial(i) for i in range(n))


@flow
def submitted(n: int) -> int:
    """n tasks submitted, then their results."""
    return sum(f.result() for f in [trivial.submit(i) for i in range(n)])


@flow
def mapped(n: int) -> int:
    """n tasks through `map`."""
    return sum(trivial.map(range(n)).result())


@flow
def trivial_flow() -> int:
    """A flow that does nothing."""
    return 1


@flow
def every_ten() -> int:
    """The scheduled-start benchmark's flow: does nothing."""
    return 1


MODES: dict[str, Callable[[int], int]] = {
    "sequential": sequential,
    "submit": submitted,
    "map": mapped,
}


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def tasks(args: dict[str, Any]) -> dict[str, float]:
    """Per-task overhead in µs: (flow wall time - the same calls as plain Python) / n."""
    out: dict[str, float] = {}
    for mode in args["modes"]:
        MODES[mode](5)  # warm-up
        for n in args["sizes"]:
            begin = time.perf_counter()
            sum(trivial.fn(i) for i in range(n))
            plain = time.perf_counter() - begin
            begin = time.perf_counter()
            MODES[mode](n)
            out[f"{mode}_{n}"] = (time.perf_counter() - begin - plain) / n * 1e6
    return out


def flows(args: dict[str, Any]) -> dict[str, float]:
    """A trivial flow run's wall time, median and p95 (ms), after one warm-up call."""
    trivial_flow()
    times = []
    for _ in range(args["n"]):
        begin = time.perf_counter()
        trivial_flow()
        times.append((time.perf_counter() - begin) * 1e3)
    return {"median_ms": statistics.median(times), "p95_ms": p95(times), "max_ms": max(times)}


def creates(args: dict[str, Any]) -> dict[str, float]:
    """Flow runs created per second through the client: one at a time, and `inflight` at once
    (a client per thread)."""
    n, inflight = args["n"], args["inflight"]
    with get_client(sync_client=True) as client:
        client.create_flow_run(trivial_flow)
        begin = time.perf_counter()
        for _ in range(n):
            client.create_flow_run(trivial_flow)
        sequential_rate = n / (time.perf_counter() - begin)

    def work(_: int) -> None:
        with get_client(sync_client=True) as c:
            for _ in range(n // inflight):
                c.create_flow_run(trivial_flow)

    begin = time.perf_counter()
    with ThreadPoolExecutor(inflight) as pool:
        list(pool.map(work, range(inflight)))
    concurrent_rate = (n // inflight) * inflight / (time.perf_counter() - begin)
    return {"sequential_per_s": sequential_rate, "inflight_per_s": concurrent_rate}


def reads(args: dict[str, Any]) -> dict[str, float]:
    """Median ms of listing flow runs (limit 1 / 50 / 200) and of reading one run by id."""
    out: dict[str, float] = {}
    with get_client(sync_client=True) as client:
        some = client.read_flow_runs(limit=1)
        for limit in (1, 50, 200):
            client.read_flow_runs(limit=limit)
            times = []
            for _ in range(args["repeats"]):
                begin = time.perf_counter()
                client.read_flow_runs(limit=limit)
                times.append((time.perf_counter() - begin) * 1e3)
            out[f"list_{limit}_ms"] = statistics.median(times)
        if some:
            times = []
            for _ in range(args["repeats"]):
                begin = time.perf_counter()
                client.read_flow_run(some[0].id)
                times.append((time.perf_counter() - begin) * 1e3)
            out["read_ms"] = statistics.median(times)
    return out


def fill(args: dict[str, Any]) -> dict[str, float]:
    """`runs` finished flow runs through Prefect's client API (16 clients in threads)."""
    from prefect.states import Completed

    runs, writers = args["runs"], 16

    def work(k: int) -> None:
        with get_client(sync_client=True) as c:
            for _ in range(k, runs, writers):
                c.create_flow_run(trivial_flow, state=Completed())

    begin = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(work, range(writers)))
    return {"seconds": time.perf_counter() - begin}


def serve(_: dict[str, Any]) -> dict[str, float]:
    """`every_ten.serve(interval=10)`: runs until killed."""
    every_ten.serve(name="bench", interval=10)
    return {}


def scheduled(args: dict[str, Any]) -> dict[str, float]:
    """`.serve(interval=10)` in a process of its own, then each finished run's start - expected
    start (s); and the seconds from starting serve() to the first run existing."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    begin = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "serve", "{}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first_exists, lateness = None, []
    deadline = time.monotonic() + args["timeout"]
    try:
        with get_client(sync_client=True) as client:
            deployment_id = None
            while time.monotonic() < deadline:
                if deployment_id is None:
                    try:
                        deployment_id = client.read_deployment_by_name("every-ten/bench").id
                    except Exception:
                        time.sleep(0.2)
                        continue
                flt = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
                runs = client.read_flow_runs(deployment_filter=flt, limit=200)
                if runs and first_exists is None:
                    first_exists = time.perf_counter() - begin
                lateness = [
                    (r.start_time - r.expected_start_time).total_seconds()
                    for r in runs
                    if r.start_time and r.expected_start_time
                ]
                if len(lateness) >= args["runs"]:
                    break
                time.sleep(0.2)  # a poll interval
    finally:
        server.terminate()
        server.wait(30)
    if not lateness:
        raise TimeoutError("no scheduled run started")
    return {
        "p50_s": statistics.median(lateness),
        "p95_s": p95(lateness),
        "max_s": max(lateness),
        "runs": len(lateness),
        "first_run_after_deploy_s": first_exists or -1.0,
    }


WORKLOADS = {f.__name__: f for f in (tasks, flows, creates, reads, fill, serve, scheduled)}


def main() -> None:
    """Run one workload; print its figures as one JSON line."""
    figures = WORKLOADS[sys.argv[1]](json.loads(sys.argv[2]))
    figures["client_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["at"] = datetime.now(UTC).timestamp()
    figures["prefect"] = __version__
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
