"""Helpers for the agent tests with real processes: polling with a deadline, zip bundles,
deployments, agent processes whose output goes to a file, and the processes under them."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

from stratoflow.client import StratoflowClient, load_client_settings
from stratoflow.deploy import PackedBundle, upload_bundle
from stratoflow.schemas import (
    CodeBundle,
    DeploymentCreate,
    DeploymentRunCreate,
    FlowCreate,
    StateType,
)
from stratoflow_agents import AgentConfig, BaseAgent, LocalAgent
from stratoflow_agents.local import stratoflow_command
from tests.fixtures.live_api import LiveApi

AgentT = TypeVar("AgentT", bound=BaseAgent)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLOWS = Path(__file__).resolve().parent / "flows"
FAST = {
    "poll_interval": 0.1, "backoff_max": 0.5, "heartbeat_interval": 1.0,
    "cancel_check_interval": 0.2, "watch_interval": 0.05, "cancel_grace": 3.0,
    "shutdown_grace": 0.5,
}  # fmt: skip
"""Agent settings that keep the live tests quick (the same values as `FAST_FLAGS`)."""
FAST_FLAGS = [
    "--poll-interval", "0.1", "--backoff-max", "0.5", "--heartbeat-interval", "1",
    "--cancel-check-interval", "0.2", "--watch-interval", "0.05", "--cancel-grace", "3",
    "--shutdown-grace", "0.5",
]  # fmt: skip


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `check` until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def contend(
    make_agent: Callable[[StratoflowClient, AgentConfig], BaseAgent],
    client: StratoflowClient, home: Path, queue: str, runs: Collection[UUID],
    end_started: Callable[[], None], launched: Callable[[], Collection[UUID]],
) -> list[set[UUID]]:  # fmt: skip
    """Two agents of one type on `queue`, looping in threads, each with its own client of the
    live API and a limit of 4: nothing ends until each holds 4 runs (so both claimed under
    contention); then `end_started` ends what was started, over and over, until `launched`
    names every one of `runs`. Both agents are stopped and joined.

    Returns:
        The runs each agent held when both were full (disjoint if no run was claimed twice).
    """
    config = AgentConfig(work_queue=queue, limit=4, **FAST)  # type: ignore[arg-type]
    agents, threads = [], []
    for _ in range(2):
        settings = load_client_settings(
            {"STRATOFLOW_HOME": str(home)}, api_url=client.settings.api_url,
            api_key=client.settings.api_key,
        )  # fmt: skip
        own = StratoflowClient(settings)
        agents.append((make_agent(own, config), own))
        threads.append(threading.Thread(target=agents[-1][0].run, daemon=True))
    for thread in threads:
        thread.start()
    held: list[set[UUID]] = []
    try:

        def both_full() -> bool:
            held[:] = [set(agent.active.copy()) for agent, _ in agents]
            return [len(h) for h in held] == [4, 4]

        wait_for(both_full, "each agent holding 4 runs", timeout=60)

        def progress() -> bool:
            end_started()
            return set(launched()) >= set(runs)

        wait_for(progress, "every run launched", timeout=60)
    finally:
        for agent, _ in agents:
            agent.request_stop()
            agent.request_stop()
        for thread in threads:
            thread.join(timeout=15)
        for _, own in agents:
            own.close()
    assert not any(t.is_alive() for t in threads), "an agent did not stop"
    return held


def zip_bundle(client: StratoflowClient, entries: dict[str, bytes]) -> CodeBundle:
    """A code bundle holding `entries` (archive name → bytes, names taken as given), stored in
    the code bucket through the API as `stratoflow deploy` stores one (the API takes bundles
    from nowhere else)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    data = buffer.getvalue()
    packed = PackedBundle(data=data, sha256=hashlib.sha256(data).hexdigest(), files=tuple(entries))
    code, _ = upload_bundle(client, packed)
    return code


def start_run(
    client: StratoflowClient, queue: str, entrypoint: str, code: CodeBundle,
    parameters: dict[str, Any] | None = None,
) -> UUID:  # fmt: skip
    """Deploy `code` on `queue` and start one run of it."""
    flow = client.create_flow(FlowCreate(name=f"flow-{uuid4().hex[:6]}"))
    deployment = client.create_deployment(
        DeploymentCreate(
            flow_id=flow.id, name=f"test-{queue}", entrypoint=entrypoint, work_queue=queue,
            code=code, parameters=parameters or {},
        )
    )  # fmt: skip
    return client.create_deployment_run(deployment.id, DeploymentRunCreate()).id


def in_state(client: StratoflowClient, run_id: UUID, *types: StateType) -> Callable[[], bool]:
    return lambda: client.read_flow_run(run_id).state.type in types


def queue_name() -> str:
    return f"faults-{uuid4().hex[:8]}"


def agent_env(live_api: LiveApi, home: Path, tmp: Path) -> dict[str, str]:
    """An agent's environment: the live API, its key, and `TMPDIR` (where its workspace goes)."""
    return {
        **os.environ, "STRATOFLOW_HOME": str(home), "STRATOFLOW_API_URL": live_api.url,
        "STRATOFLOW_API_KEY": live_api.key, "TMPDIR": str(tmp),
    }  # fmt: skip


@contextmanager
def agent_process(
    env: dict[str, str], queue: str, log: Path, extra: Sequence[str] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """`stratoflow agent start` as a real process, its output appended to `log` (a pipe nobody
    reads would fill up and block it)."""
    command = [*stratoflow_command(), "agent", "start", "-q", queue, *FAST_FLAGS, *extra]
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def looping(agent: AgentT, join_timeout: float = 15.0) -> Iterator[AgentT]:
    """`agent` looping in a thread of this process, stopped (and joined) at the end."""
    thread = threading.Thread(target=agent.run, name="agent", daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        agent.request_stop()
        agent.request_stop()
        thread.join(timeout=join_timeout)
        assert not thread.is_alive(), "the agent did not stop"


@contextmanager
def agent_in_thread(
    client: StratoflowClient, queue: str, env: dict[str, str], **kwargs: Any
) -> Iterator[LocalAgent]:
    """A local agent looping in a thread of this process, stopped (and joined) at the end."""
    agent = LocalAgent(
        AgentConfig(work_queue=queue, **FAST), client, client.settings, env,  # type: ignore[arg-type]
        **kwargs,
    )  # fmt: skip
    with looping(agent) as running:
        yield running


def children_of(pid: int) -> list[int]:
    """The pids whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie that has exited but is not reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def environment_of(pid: int) -> dict[str, str]:
    """A process's environment (from /proc)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {key.decode(): value.decode() for key, _, value in pairs}


def flow_process_of(agent_pid: int, run_id: UUID) -> int:
    """The agent's flow process that executes `run_id`."""
    found: list[int] = []

    def look() -> bool:
        found[:] = [
            pid for pid in children_of(agent_pid)
            if environment_of_or_empty(pid).get("STRATOFLOW_FLOW_RUN_ID") == str(run_id)
        ]  # fmt: skip
        return bool(found)

    wait_for(look, f"the flow process of {run_id}")
    return found[0]


def environment_of_or_empty(pid: int) -> dict[str, str]:
    try:
        return environment_of(pid)
    except OSError:
        return {}


def workspace(tmp: Path) -> Path:
    """Where an agent whose `TMPDIR` is `tmp` keeps its folders."""
    return tmp / f"stratoflow-agents-{os.getuid()}"


def run_folders(tmp: Path) -> list[Path]:
    """Every run folder in the agents' workspaces under `tmp`."""
    found: list[Path] = []
    for agent_folder in _children(workspace(tmp)):
        found += [p for p in _children(agent_folder) if p.name.startswith("stratoflow-run-")]
    return sorted(found)


def _children(folder: Path) -> list[Path]:
    """The entries of `folder`; none if an agent removes it while it is being read."""
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def code_folders(root: Path) -> list[Path]:
    """Every `stratoflow-code-*` folder anywhere under `root`."""
    return sorted(root.rglob("stratoflow-code-*"))
