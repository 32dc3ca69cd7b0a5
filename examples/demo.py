"""`make demo`: the main job, end to end, on the local stack.

Starts `stratoflow server start` with a fresh home folder, deploys the examples with the real
CLI (an ETL with retries, mapped tasks and a subflow; a flow on a one-minute schedule; a flow
that fails and is retried; a flow pushed to ECS and to Lambda, which the stack's Step Functions
launch with no agent), triggers runs, shows their states and log lines live, prints a
summary, stops the stack, and exits 0 only if every run ended as expected.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from stratoflow.client import StratoflowClient, load_client_settings
from stratoflow.schemas import FlowRun, FlowRunFilter, StateType

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_SECONDS = 150
STRATOFLOW = [sys.executable, "-c", "from stratoflow.cli import main; main()"]


@dataclass
class Expectation:
    """What one deployment's run must end as."""

    deployment: str
    final: StateType
    min_run_count: int = 1
    seen: dict[str, str] = field(default_factory=dict)
    """run id -> the last state name shown"""
    deployment_id: UUID | None = None
    """Looked up once the deployment exists; a run belongs to the expectation of its deployment."""


EXPECTED = [
    Expectation("nightly-etl/demo", StateType.COMPLETED),
    Expectation("flaky/demo", StateType.COMPLETED, min_run_count=2),
    Expectation("every-minute/demo", StateType.COMPLETED),
    Expectation("pushed/on-ecs", StateType.COMPLETED),  # launched by Step Functions on ECS
    Expectation("pushed/on-lambda", StateType.COMPLETED),  # in the Lambda runner
]


def say(line: str) -> None:
    """Print a demo line with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def cli(env: dict[str, str], *args: str) -> None:
    """Run a `stratoflow` command as a user would, failing the demo if it fails."""
    say("$ stratoflow " + " ".join(args))
    subprocess.run([*STRATOFLOW, *args], cwd=ROOT / "examples", env=env, check=True)  # noqa: S603


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `check` until it is true or the deadline passes."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def start_stack(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`stratoflow server start --port 0` in the background; ready when the profile has a URL."""
    say("$ stratoflow server start --port 0")
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [*STRATOFLOW, "server", "start", "--port", "0"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    profile = Path(env["STRATOFLOW_HOME"]) / "profile.toml"
    wait_for(lambda: "api_url" in _text(profile) or process.poll() is not None, 60, "the stack")
    if process.poll() is not None:
        raise RuntimeError(f"the local stack did not start:\n{log.read_text()}")
    return process


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def stop_stack(process: subprocess.Popen[bytes]) -> int:
    """Ctrl-C, as a user would; wait for a clean exit."""
    say("stopping the local stack (SIGINT)")
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return -9


def runs_of(client: StratoflowClient, deployment_ids: dict[str, UUID]) -> list[FlowRun]:
    """The demo deployments' runs that are due or have started (not future scheduled ones)."""
    now = datetime.now(UTC)
    runs: list[FlowRun] = []
    for deployment_id in deployment_ids.values():
        page = client.list_flow_runs(FlowRunFilter(deployment_id=deployment_id), limit=200)
        runs += [run for run in page.items if not _in_future(run, now)]
    return sorted(runs, key=lambda run: run.created)


def _in_future(run: FlowRun, now: datetime) -> bool:
    start = run.state.scheduled_time or run.expected_start_time
    return run.state.type is StateType.SCHEDULED and start is not None and start > now


def show_progress(
    client: StratoflowClient, deployment_ids: dict[str, UUID], log_seen: dict[str, int]
) -> list[FlowRun]:
    """Print new state changes and log lines; return the runs so far."""
    runs = runs_of(client, deployment_ids)
    for run in runs:
        expectation = _expectation_of(run)
        label = f"{run.flow_name}/{run.name}"
        if expectation.seen.get(str(run.id)) != run.state.name:
            expectation.seen[str(run.id)] = run.state.name
            say(f"{label:<40} {run.state.name}")
        logs = client.list_logs(run.id, limit=200).items
        for line in logs[log_seen.get(str(run.id), 0) :]:
            say(f"{label:<40}   | {line.message}")
        log_seen[str(run.id)] = len(logs)
    return runs


def _expectation_of(run: FlowRun) -> Expectation:
    return next(e for e in EXPECTED if e.deployment_id == run.deployment_id)


def all_done(runs: list[FlowRun]) -> bool:
    """Every expectation has a finished run."""
    for expectation in EXPECTED:
        if not any(r.state.is_terminal for r in runs if _expectation_of(r) is expectation):
            return False
    return True


def summary(client: StratoflowClient, runs: list[FlowRun]) -> bool:
    """Print the summary table; True when every expectation was met."""
    print()
    print(f"{'deployment':<22} {'run':<22} {'state':<10} {'attempts':>8} {'tasks':>6}  expected")
    ok = True
    for expectation in EXPECTED:
        mine = [r for r in runs if _expectation_of(r) is expectation and r.state.is_terminal]
        if not mine:
            print(f"{expectation.deployment:<22} {'-':<22} {'(none)':<10} {'':>8} {'':>6}  FAIL")
            ok = False
        for run in mine[:1]:
            met = run.state.type is expectation.final and run.run_count >= expectation.min_run_count
            ok = ok and met
            verdict = "ok" if met else f"FAIL (wanted {expectation.final})"
            tasks = len(client.list_task_runs(run.id, limit=200).items)
            print(
                f"{expectation.deployment:<22} {run.name:<22} {run.state.name:<10} "
                f"{run.run_count:>8} {tasks:>6}  {verdict}"
            )
    print()
    return ok


def main() -> int:
    """Run the demo; 0 only if every run ended as expected."""
    home = Path(tempfile.mkdtemp(prefix="stratoflow-demo-"))
    env = {
        **os.environ,
        "STRATOFLOW_HOME": str(home),
        "STRATOFLOW_LOCAL_SCHEDULER_SECONDS": "5",
        "FLAKY_MARKER_DIR": str(home),
    }
    for name in ("STRATOFLOW_API_URL", "STRATOFLOW_API_KEY"):
        env.pop(name, None)
    stack = start_stack(env, home / "server.log")
    ok = False
    try:
        cli(env, "deploy", "etl.py:nightly_etl", "--name", "demo", "--param", "day=2024-06-01")
        cli(env, "deploy", "flaky_flow.py:flaky", "--name", "demo")
        cli(env, "deploy", "every_minute.py:every_minute", "--name", "demo", "--interval", "60")
        cli(env, "deploy", "pushed.py:pushed", "--name", "on-ecs", "--infra", "ecs")
        cli(env, "deploy", "pushed.py:pushed", "--name", "on-lambda", "--infra", "lambda")
        cli(env, "run", "nightly-etl/demo")
        cli(env, "run", "flaky/demo")
        cli(env, "run", "pushed/on-ecs")
        cli(env, "run", "pushed/on-lambda")
        say("waiting for the runs (the scheduled one starts on the next minute)")
        os.environ["STRATOFLOW_HOME"] = str(home)
        client = StratoflowClient(load_client_settings())
        for expectation in EXPECTED:
            name = expectation.deployment.split("/")
            expectation.deployment_id = client.read_deployment_by_name(*name).id
        deployment_ids = {e.deployment: e.deployment_id for e in EXPECTED if e.deployment_id}
        log_seen: dict[str, int] = {}
        deadline = time.monotonic() + DEADLINE_SECONDS
        runs = show_progress(client, deployment_ids, log_seen)
        while not all_done(runs) and time.monotonic() < deadline:
            time.sleep(0.5)
            runs = show_progress(client, deployment_ids, log_seen)
        ok = summary(client, runs)
    finally:
        code = stop_stack(stack)
        if code != 0:
            print((home / "server.log").read_text()[-4000:])
    print("demo: every run ended as expected" if ok else "demo: FAILED")
    return 0 if ok and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
