"""Stratoflow's side of each benchmark workload, run by `bench/suite.py` in a process of its own
against a running `stratoflow server start` (found through STRATOFLOW_HOME's profile, as a
user's script finds it). Public interfaces only: the SDK (`@flow`, `@task`, the client) and the
CLI. `_pf_work.py` is the same workload for Prefect 3.

Usage: `python _sf_work.py WORKLOAD JSON_ARGS`; prints one JSON line of figures, with
`client_peak_mib` (this process's peak RSS).
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

from stratoflow import flow, task

BENCH = Path(__file__).resolve().parent


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
    return sum(f.result() for f in trivial.map(range(n)))


@flow
def trivial_flow() -> int:
    """A flow that does nothing."""
    return 1


MODES: dict[str, Callable[[int], int]] = {
    "sequential": sequential,
    "submit": submitted,
    "map": mapped,
}


def _ms(seconds: list[float]) -> list[float]:
    return [s * 1e3 for s in seconds]


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
        times.append(time.perf_counter() - begin)
    ms = _ms(times)
    return {"median_ms": statistics.median(ms), "p95_ms": p95(ms), "max_ms": max(ms)}


def _client() -> Any:
    from stratoflow.client import StratoflowClient, load_client_settings

    return StratoflowClient(load_client_settings())


def creates(args: dict[str, Any]) -> dict[str, float]:
    """Flow runs created per second through the client: one at a time, and `inflight` at once
    (a client per thread)."""
    from stratoflow.schemas import FlowCreate, FlowRunCreate

    client = _client()
    flow_id = client.create_flow(FlowCreate(name="bench-creates")).id
    body = FlowRunCreate(flow_id=flow_id)
    client.create_flow_run(body)
    n = args["n"]
    begin = time.perf_counter()
    for _ in range(n):
        client.create_flow_run(body)
    sequential_rate = n / (time.perf_counter() - begin)
    inflight = args["inflight"]
    clients = [_client() for _ in range(inflight)]

    def work(k: int) -> None:
        for _ in range(n // inflight):
            clients[k].create_flow_run(body)

    begin = time.perf_counter()
    with ThreadPoolExecutor(inflight) as pool:
        list(pool.map(work, range(inflight)))
    concurrent_rate = (n // inflight) * inflight / (time.perf_counter() - begin)
    for c in [client, *clients]:
        c.close()
    return {"sequential_per_s": sequential_rate, "inflight_per_s": concurrent_rate}


def reads(args: dict[str, Any]) -> dict[str, float]:
    """Median ms of listing flow runs (limit 1 / 50 / 200) and of reading one run by id."""
    client = _client()
    out: dict[str, float] = {}
    some = client.list_flow_runs(limit=1).items
    for limit in (1, 50, 200):
        client.list_flow_runs(limit=limit)
        times = []
        for _ in range(args["repeats"]):
            begin = time.perf_counter()
            client.list_flow_runs(limit=limit)
            times.append(time.perf_counter() - begin)
        out[f"list_{limit}_ms"] = statistics.median(_ms(times))
    if some:
        run_id = some[0].id
        times = []
        for _ in range(args["repeats"]):
            begin = time.perf_counter()
            client.read_flow_run(run_id)
            times.append(time.perf_counter() - begin)
        out["read_ms"] = statistics.median(_ms(times))
    client.close()
    return out


SCHEDULED_FLOW = '''from stratoflow import flow


@flow
def every_ten() -> int:
    """The scheduled-start benchmark's flow: does nothing."""
    return 1
'''


def scheduled(args: dict[str, Any]) -> dict[str, float]:
    """`stratoflow deploy --interval 10`, then each finished run's start - expected start (s);
    and the seconds from the deploy command's start to the first run existing."""
    from stratoflow.schemas import FlowRunFilter

    code = Path(args["code_dir"])
    code.mkdir(parents=True, exist_ok=True)
    (code / "every_ten.py").write_text(SCHEDULED_FLOW)
    stratoflow = Path(sys.executable).parent / "stratoflow"
    begin = time.perf_counter()
    subprocess.run(
        [
            str(stratoflow),
            "deploy",
            "every_ten.py:every_ten",
            "--name",
            "bench",
            "--interval",
            "10",
        ],
        cwd=code,
        check=True,
        capture_output=True,
    )
    client = _client()
    deployment = client.read_deployment_by_name("every-ten", "bench")
    flt = FlowRunFilter(deployment_id=deployment.id)
    first_exists = None
    deadline = time.monotonic() + args["timeout"]
    lateness: list[float] = []
    while time.monotonic() < deadline:
        runs = client.list_flow_runs(flt, limit=200).items
        if runs and first_exists is None:
            first_exists = time.perf_counter() - begin
        started = [r for r in runs if r.start_time and r.expected_start_time]
        lateness = [(r.start_time - r.expected_start_time).total_seconds() for r in started]
        if len(lateness) >= args["runs"]:
            break
        time.sleep(0.2)  # a poll interval
    client.close()
    if not lateness:
        raise TimeoutError("no scheduled run started")
    return {
        "p50_s": statistics.median(lateness),
        "p95_s": p95(lateness),
        "max_s": max(lateness),
        "runs": len(lateness),
        "first_run_after_deploy_s": first_exists or -1.0,
    }


def fill(args: dict[str, Any]) -> dict[str, float]:
    """Fill a fresh home with `runs` finished runs through the store, as bench/ui_load.py does
    (an in-process local stack with the default compaction, stopped afterwards so `stratoflow
    server start` reopens it as a user's home)."""
    sys.path.insert(0, str(BENCH))
    from ui_load import fill as fill_store
    from ui_load import local_stack

    with local_stack(Path(args["home"]), compact_after=None) as stack:
        seconds = fill_store(stack, args["runs"])
    return {"seconds": seconds}


WORKLOADS = {f.__name__: f for f in (tasks, flows, creates, reads, scheduled, fill)}


def main() -> None:
    """Run one workload; print its figures as one JSON line."""
    figures = WORKLOADS[sys.argv[1]](json.loads(sys.argv[2]))
    figures["client_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["at"] = datetime.now(UTC).timestamp()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
