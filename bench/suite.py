"""`make bench`: Stratoflow side by side with Prefect 3, through public interfaces only.

Each system runs as a user runs it (`stratoflow server start` with its local agent; `prefect
server start` on SQLite, Prefect from its pinned venv `.bench/prefect`), in a fresh home
folder, and each workload runs in a client process of its own (`_sf_work.py`, `_pf_work.py`:
the same flows and calls). Repetitions alternate the systems (S P, P S, ...). Every figure is
printed as the median with min-max over the repetitions, with the ratio Stratoflow / Prefect and
whether the issue's target is met; the table is also written as JSON to build/bench/. Nothing
here fails on a figure.

Usage: `make bench` (or `uv run python bench/suite.py [--quick] [--reps N] [--no-prefect]
[--only tasks,flows,creates,scheduled,reads,cost] [--stored 1000,100000]`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _procs import run_worker
from _servers import ROOT, Server, start

SYSTEMS = ("stratoflow", "prefect")
CONTROL_PLANE_TASKS = "control plane $ per 1M task runs"
WORKLOADS = ("tasks", "flows", "creates", "scheduled", "reads", "cost")


@dataclass(frozen=True)
class Sizes:
    """How much work each figure does (full `make bench` or `--quick`)."""

    reps: int = 3
    task_sizes: tuple[int, ...] = (100, 1_000, 5_000)
    modes: tuple[str, ...] = ("sequential", "submit", "map")
    flows: int = 50
    creates: int = 320
    inflight: int = 16
    stored: tuple[int, ...] = (1_000, 100_000)
    read_repeats: int = 30
    scheduled_runs: int = 6
    scheduled_timeout: float = 240.0
    cost_tasks: tuple[int, ...] = (0, 1, 10, 100, 1_000)


QUICK = Sizes(
    reps=1,
    task_sizes=(20,),
    flows=3,
    creates=16,
    inflight=4,
    stored=(20,),
    read_repeats=3,
    scheduled_runs=1,
    scheduled_timeout=90.0,
    cost_tasks=(0, 10),
)


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, for Stratoflow's median of a figure."""

    text: str
    check: Callable[[float], bool]


@dataclass
class Figure:
    """One row of the table: values per system over the repetitions."""

    name: str
    unit: str
    lower_is_better: bool = True
    target: Target | None = None
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def _below(limit: float) -> Target:
    return Target(f"< {limit:g}", lambda v: v < limit)


def _at_most(limit: float) -> Target:
    return Target(f"<= {limit:g}", lambda v: v <= limit)


class Results:
    """Every figure measured, in the order first seen."""

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}
        self.notes: list[str] = []
        self.extra: dict[str, Any] = {}

    def add(
        self,
        system: str,
        name: str,
        value: float,
        unit: str,
        *,
        lower_is_better: bool = True,
        target: Target | None = None,
    ) -> None:
        """Record one repetition's value of a figure for a system."""
        figure = self.figures.setdefault(name, Figure(name, unit, lower_is_better, target))
        figure.values[system].append(float(value))
        print(f"  {system}: {name} = {value:.4g} {unit}", flush=True)

    @contextmanager
    def guard(self, what: str) -> Iterator[bool]:
        """Run one step; a failure becomes a note (and the suite goes on to the next step)."""
        try:
            yield True
        except Exception as exc:  # one failed step must not lose the rest of the suite
            first = str(exc).strip().splitlines()
            self.notes.append(f"FAILED {what}: {type(exc).__name__}: {first[-1] if first else ''}")
            print(f"FAILED {what}: {exc}", file=sys.stderr, flush=True)


# --- the workloads -------------------------------------------------------------------------


def _work(server: Server, workload: str, args: dict[str, Any]) -> dict[str, Any]:
    return run_worker(server.python, server.worker, [workload, json.dumps(args)], server.client_env)


def measure_tasks(server: Server, sizes: Sizes, out: Results) -> None:
    """Per-task overhead, each mode and size."""
    got = _work(server, "tasks", {"sizes": list(sizes.task_sizes), "modes": list(sizes.modes)})
    for mode in sizes.modes:
        for n in sizes.task_sizes:
            out.add(server.system, f"per task, {mode}, {n:,} tasks", got[f"{mode}_{n}"], "µs")


def measure_flows(server: Server, sizes: Sizes, out: Results) -> None:
    """A trivial flow run, median and p95; the flow process's peak memory."""
    got = _work(server, "flows", {"n": sizes.flows})
    s = server.system
    out.add(s, "trivial flow run, median", got["median_ms"], "ms", target=_at_most(20))
    out.add(s, "trivial flow run, p95", got["p95_ms"], "ms", target=_at_most(40))
    out.add(s, "flow process peak RSS (client)", got["client_peak_mib"], "MiB", target=_at_most(60))


def measure_creates(server: Server, sizes: Sizes, out: Results) -> None:
    """Flow-run creates per second, sequential and `inflight` at once."""
    got = _work(server, "creates", {"n": sizes.creates, "inflight": sizes.inflight})
    s = server.system
    out.add(s, "creates/s, sequential", got["sequential_per_s"], "1/s", lower_is_better=False)
    out.add(
        s,
        f"creates/s, {sizes.inflight} in flight",
        got["inflight_per_s"],
        "1/s",
        lower_is_better=False,
    )


def measure_scheduled(server: Server, sizes: Sizes, out: Results, work_dir: Path) -> None:
    """Scheduled start - expected start over a 10 s interval schedule; first run after deploy."""
    code = work_dir / f"code-{server.system}-{time.monotonic_ns()}"
    got = _work(
        server,
        "scheduled",
        {"runs": sizes.scheduled_runs, "code_dir": str(code), "timeout": sizes.scheduled_timeout},
    )
    s = server.system
    out.add(s, "scheduled start lateness, p50", got["p50_s"], "s", target=_below(0.3))
    out.add(s, "scheduled start lateness, p95", got["p95_s"], "s", target=_below(1))
    out.add(s, "scheduled start lateness, max", got["max_s"], "s")
    out.add(
        s,
        "first scheduled run exists after deploy",
        got["first_run_after_deploy_s"],
        "s",
        target=_below(2),
    )


def measure_offline(sizes: Sizes, out: Results, work_dir: Path) -> None:
    """Stratoflow's per-task setup with no API (the engine alone)."""
    home = work_dir / "offline-home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATOFLOW_")}
    env["STRATOFLOW_HOME"] = str(home)
    got = run_worker(
        sys.executable,
        ROOT / "bench" / "_sf_work.py",
        ["tasks", json.dumps({"sizes": [max(sizes.task_sizes)], "modes": ["sequential"]})],
        env,
    )
    n = max(sizes.task_sizes)
    out.add(
        "stratoflow",
        f"per task, engine alone (offline), {n:,} tasks",
        got[f"sequential_{n}"],
        "µs",
        target=_below(30),
    )


def session(system: str, sizes: Sizes, only: set[str], out: Results, work_dir: Path) -> None:
    """One repetition for one system on an empty home: start-up, workloads, memory."""
    server = start(system, work_dir / f"home-{system}-{time.monotonic_ns()}")
    try:
        out.add(system, "server start-up, empty home", server.startup_seconds, "s")
        out.add(
            system,
            "server RSS at idle (stack + agent)",
            server.idle_rss_mib,
            "MiB",
            target=_at_most(150),
        )
        steps: dict[str, Callable[[], None]] = {
            "tasks": lambda: measure_tasks(server, sizes, out),
            "flows": lambda: measure_flows(server, sizes, out),
            "creates": lambda: measure_creates(server, sizes, out),
            "scheduled": lambda: measure_scheduled(server, sizes, out, work_dir),
        }
        for name, step in steps.items():
            if name in only:
                with out.guard(f"{system} {name}"):
                    step()
    finally:
        peak = server.stop()
    out.add(system, "server peak RSS during the workloads", peak, "MiB")


def fill_home(system: str, runs: int, work_dir: Path) -> Path:
    """A home holding `runs` finished flow runs (Stratoflow: through its store, as
    bench/ui_load.py; Prefect: through its client API into its server)."""
    home = work_dir / f"stored-{system}-{runs}"
    if system == "stratoflow":
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATOFLOW_")}
        run_worker(
            sys.executable,
            ROOT / "bench" / "_sf_work.py",
            ["fill", json.dumps({"home": str(home), "runs": runs})],
            env,
        )
        return home
    server = start(system, home, idle_seconds=0)
    try:
        _work(server, "fill", {"runs": runs})
    finally:
        server.stop()
    return home


def stored_session(system: str, home: Path, runs: int, sizes: Sizes, out: Results) -> None:
    """Start-up with `runs` stored, then list and read latency."""
    server = start(system, home)
    try:
        label = f"{runs:,} runs stored"
        target = _below(3) if runs >= 100_000 else None
        out.add(system, f"server start-up, {label}", server.startup_seconds, "s", target=target)
        got = _work(server, "reads", {"repeats": sizes.read_repeats})
        big = runs >= 100_000
        for limit in (1, 50, 200):
            t = _below(25) if big and limit == 50 else None
            out.add(
                system,
                f"list runs, limit {limit}, {label}",
                got[f"list_{limit}_ms"],
                "ms",
                target=t,
            )
        if "read_ms" in got:
            out.add(
                system,
                f"read a run by id, {label}",
                got["read_ms"],
                "ms",
                target=_below(5) if big else None,
            )
        out.add(system, f"server RSS at idle, {label}", server.idle_rss_mib, "MiB")
    finally:
        server.stop()


# --- the table -----------------------------------------------------------------------------


def _fmt(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return _fmt(values[0])
    return f"{_fmt(statistics.median(values))} ({_fmt(min(values))}-{_fmt(max(values))})"


def rows(results: Results) -> list[dict[str, Any]]:
    """The table as data: one dict per figure."""
    table = []
    for figure in results.figures.values():
        stats = {
            s: {"median": statistics.median(v), "min": min(v), "max": max(v), "values": v}
            for s, v in figure.values.items()
            if v
        }
        ratio = None
        if "stratoflow" in stats and "prefect" in stats and stats["prefect"]["median"]:
            ratio = stats["stratoflow"]["median"] / stats["prefect"]["median"]
        met = None
        if figure.target and "stratoflow" in stats:
            met = bool(figure.target.check(stats["stratoflow"]["median"]))
        table.append(
            {
                "figure": figure.name,
                "unit": figure.unit,
                **stats,
                "ratio": ratio,
                "lower_is_better": figure.lower_is_better,
                "target": figure.target.text if figure.target else None,
                "met": met,
            }
        )
    return table


def render(table: list[dict[str, Any]]) -> str:
    """The table as Markdown (printed, and pasted into docs/benchmarks.md)."""
    lines = [
        "| figure | unit | Stratoflow | Prefect | ratio S/P | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table:
        cells = [_cell(row[s]["values"]) if s in row else "-" for s in SYSTEMS]
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        met = {True: "yes", False: "**no**", None: ""}[row["met"]]
        lines.append(
            f"| {row['figure']} | {row['unit']} | {cells[0]} | {cells[1]} | {ratio} | "
            f"{row['target'] or ''} | {met} |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """What the figures were measured on, and how busy it was."""
    load = os.getloadavg()
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_1_5_15": [round(x, 2) for x in load],
    }


def write(
    table: list[dict[str, Any]], results: Results, args: argparse.Namespace, out_dir: Path
) -> Path:
    """build/bench/bench-<UTC time>.json and build/bench/latest.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    doc = {
        "when": now.isoformat(timespec="seconds"),
        "quick": args.quick,
        "reps": args.reps,
        "machine": machine(),
        "figures": table,
        "notes": results.notes,
        **results.extra,
    }
    path = out_dir / f"bench-{now:%Y%m%dT%H%M%SZ}.json"
    text = json.dumps(doc, indent=2, default=str)
    path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    return path


# --- main ----------------------------------------------------------------------------------


def _order(rep: int, systems: list[str]) -> list[str]:
    return systems if rep % 2 == 0 else systems[::-1]


def _sizes(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else Sizes()
    if args.reps:
        sizes = dataclasses.replace(sizes, reps=args.reps)
    if args.stored:
        sizes = dataclasses.replace(sizes, stored=tuple(args.stored))
    args.reps = sizes.reps
    return sizes


def measure_cost(sizes: Sizes, results: Results) -> None:
    """The AWS cost model (bench/cost.py): its figures as rows, its full output kept."""
    tasks = ",".join(str(k) for k in sizes.cost_tasks)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATOFLOW_")}
    cost = run_worker(sys.executable, ROOT / "bench" / "cost.py", ["--tasks", tasks, "--json"], env)
    results.extra["cost"] = cost
    for name, value in cost["figures"].items():
        target = _below(1) if name.startswith(CONTROL_PLANE_TASKS) else None
        results.add("stratoflow", name, value, "$", target=target)


def measure_stored(systems: list[str], sizes: Sizes, results: Results, work_dir: Path) -> None:
    """For each store size: fill each system once, then alternate restarts and reads."""
    for runs in sizes.stored:
        homes = {}
        for system in systems:
            print(f"filling {system} with {runs:,} runs", flush=True)
            begin = time.perf_counter()
            with results.guard(f"{system} fill {runs:,}"):
                homes[system] = fill_home(system, runs, work_dir)
                seconds = time.perf_counter() - begin
                results.notes.append(f"{system}: {runs:,} runs stored in {seconds:.1f} s")
        for rep in range(sizes.reps):
            for system in _order(rep, [s for s in systems if s in homes]):
                print(f"repetition {rep + 1}: {system}, {runs:,} runs stored", flush=True)
                with results.guard(f"{system} reads, {runs:,} stored, repetition {rep + 1}"):
                    stored_session(system, homes[system], runs, sizes, results)


def run(args: argparse.Namespace, results: Results) -> Results:
    """Every repetition of every selected workload, alternating the systems."""
    sizes = _sizes(args)
    only = set(args.only.split(",")) if args.only else set(WORKLOADS)
    systems = ["stratoflow"] if args.no_prefect else list(SYSTEMS)
    work_dir = Path(tempfile.mkdtemp(prefix="stratoflow-bench-"))
    print(f"work folder {work_dir}; systems {', '.join(systems)}; {sizes.reps} repetition(s)")
    if "cost" in only:
        with results.guard("cost model"):
            measure_cost(sizes, results)
    if "tasks" in only:
        with results.guard("offline tasks"):
            measure_offline(sizes, results, work_dir)
    basic = only & {"tasks", "flows", "creates", "scheduled"}
    if basic:
        for rep in range(sizes.reps):
            for system in _order(rep, systems):
                print(f"repetition {rep + 1}: {system}", flush=True)
                with results.guard(f"{system} repetition {rep + 1}"):
                    session(system, sizes, basic, results, work_dir)
    if "reads" in only:
        measure_stored(systems, sizes, results, work_dir)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the suite, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a CI-sized smoke run")
    parser.add_argument("--reps", type=int, default=0, help="repetitions (default 3; quick 1)")
    parser.add_argument("--no-prefect", action="store_true", help="Stratoflow only")
    parser.add_argument("--only", default="", help=f"comma-separated: {','.join(WORKLOADS)}")
    parser.add_argument(
        "--stored",
        type=lambda s: [int(x) for x in s.split(",")],
        default=None,
        help="runs stored for the read figures (default 1000,100000)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench")
    args = parser.parse_args(argv)
    begin = time.perf_counter()
    results = Results()
    try:
        run(args, results)
    except KeyboardInterrupt:  # Ctrl-C: the table of what was measured so far
        results.notes.append("FAILED: interrupted; the figures measured so far")
    table = rows(results)
    print()
    print(render(table))
    for note in results.notes:
        print(f"- {note}")
    if "cost" in results.extra:
        print()
        print(results.extra["cost"]["text"])
    path = write(table, results, args, args.out)
    print(f"\n{time.perf_counter() - begin:.0f} s; load {machine()['load_1_5_15']}; wrote {path}")
    return 1 if any(note.startswith("FAILED") for note in results.notes) else 0


if __name__ == "__main__":
    sys.exit(main())
