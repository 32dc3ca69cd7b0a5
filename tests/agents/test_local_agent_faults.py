"""Faults injected into real agents and real flow processes against the live API (moto's server
+ the real API over HTTP): a flow process killed with SIGKILL is retried and completes, with no
task run of its first attempt left open; an agent killed with SIGKILL is cleaned up after by
the next one, which never touches a live agent's or a live flow's folders; a flow process
removes its code folder on exit and on SIGTERM; a refused bundle, or a process that dies
before it can tell the API, leaves its reason in the run's state message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest

from stratoflow.client import StratoflowClient
from stratoflow.schemas import CodeBundle, StateType
from stratoflow_agents.local import stratoflow_command
from tests.agents.live_support import (
    EXAMPLES,
    FLOWS,
    agent_env,
    agent_in_thread,
    agent_process,
    alive,
    code_folders,
    flow_process_of,
    in_state,
    queue_name,
    run_folders,
    start_run,
    wait_for,
    workspace,
    zip_bundle,
)
from tests.fixtures.live_api import LiveApi

pytestmark = pytest.mark.slow

SLEEPY = (EXAMPLES / "sleepy_flow.py").read_bytes()


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    """The agents' and flows' TMPDIR, so what they leave behind can be seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


def sleepy_bundle(client: StratoflowClient) -> CodeBundle:
    return zip_bundle(client, {"sleepy_flow.py": SLEEPY})


def folder_of(tmp: Path, run_id: UUID) -> list[Path]:
    return [f for f in run_folders(tmp) if f.name.startswith(f"stratoflow-run-{run_id}-")]


# --- a killed flow process is retried ------------------------------------------------------


def test_a_flow_killed_with_sigkill_is_retried_and_completes_leaving_no_task_run_open(
    live_api: LiveApi, client: StratoflowClient, home: Path, tmp: Path, tmp_path: Path
) -> None:
    queue, marker = queue_name(), tmp_path / "first-attempt"
    code = zip_bundle(client, {"crash_once.py": (FLOWS / "crash_once.py").read_bytes()})
    run_id = start_run(client, queue, "crash_once.py:crash_once", code, {"marker": str(marker)})
    with agent_process(agent_env(live_api, home, tmp), queue, tmp_path / "agent.log") as agent:
        wait_for(marker.exists, "the first attempt to reach its hanging task")
        wait_for(lambda: len(client.list_task_runs(run_id).items) == 2, "both task runs recorded")
        os.killpg(flow_process_of(agent.pid, run_id), signal.SIGKILL)
        wait_for(in_state(client, run_id, StateType.COMPLETED), "the retry to complete", 60)
        wait_for(lambda: not run_folders(tmp), "the agent to remove the run folders")

    run = client.read_flow_run(run_id)
    tasks = client.list_task_runs(run_id).items
    assert run.run_count == 2
    assert [t for t in tasks if not t.state.is_terminal] == []
    by_type = sorted((t.task_key.rpartition("-")[0], t.state.type.value) for t in tasks)
    assert by_type == sorted(
        [("warm_up", "COMPLETED")] * 2
        + [("hang_first_time", "CRASHED"), ("hang_first_time", "COMPLETED")]
    )
    crashed = next(t for t in tasks if t.state.type is StateType.CRASHED)
    assert "SIGKILL" in (crashed.state.message or "")
    assert code_folders(tmp) == []


# --- temporary folders ---------------------------------------------------------------------


def test_a_restarted_agent_removes_what_a_killed_agent_left_and_nothing_still_in_use(
    live_api: LiveApi, client: StratoflowClient, home: Path, tmp: Path, tmp_path: Path
) -> None:
    env, log = agent_env(live_api, home, tmp), tmp_path / "agent.log"
    other_queue, queue = queue_name(), queue_name()
    other_run = start_run(client, other_queue, "sleepy_flow.py:sleepy", sleepy_bundle(client))
    killed, orphan = (
        start_run(client, queue, "sleepy_flow.py:sleepy", sleepy_bundle(client)) for _ in range(2)
    )
    with agent_in_thread(
        client, other_queue, dict(os.environ), workspace_root=workspace(tmp)
    ):  # another agent, alive throughout
        wait_for(in_state(client, other_run, StateType.RUNNING), "the other agent's run")
        with agent_process(env, queue, log, ["--limit", "2"]) as first:
            for run_id in (killed, orphan):
                wait_for(in_state(client, run_id, StateType.RUNNING), "both runs to start")
            killed_pid = flow_process_of(first.pid, killed)
            orphan_pid = flow_process_of(first.pid, orphan)
            wait_for(lambda: bool(code_folders(folder_of(tmp, killed)[0])), "its code folder")
            os.killpg(killed_pid, signal.SIGKILL)
            first.kill()  # the agent dies with no chance to clean up
            first.wait(timeout=10)
        wait_for(lambda: not alive(killed_pid), "the killed flow process to end")
        assert len(run_folders(tmp)) == 3  # nobody cleaned up

        with agent_process(env, queue, log) as second:
            wait_for(lambda: not folder_of(tmp, killed), "the dead run's folder to go")
            assert folder_of(tmp, orphan)  # its flow process still runs: kept
            assert folder_of(tmp, other_run)  # the live agent's: kept
            assert alive(orphan_pid)
            os.killpg(orphan_pid, signal.SIGKILL)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=15) == 0
        wait_for(lambda: not alive(orphan_pid), "the orphaned flow process to end")

        with agent_process(env, queue, log):
            wait_for(lambda: not folder_of(tmp, orphan), "the orphan's folder to go at last")
        assert run_folders(tmp) == folder_of(tmp, other_run)
        assert client.read_flow_run(other_run).state.type is StateType.RUNNING


def test_the_flow_process_removes_its_code_folder_on_exit_and_on_sigterm(
    live_api: LiveApi, client: StratoflowClient, home: Path, tmp: Path, tmp_path: Path
) -> None:
    env = agent_env(live_api, home, tmp)
    quick = start_run(client, queue_name(), "sleepy_flow.py:sleepy", sleepy_bundle(client),
                      {"steps": 1})  # fmt: skip
    slow = start_run(client, queue_name(), "sleepy_flow.py:sleepy", sleepy_bundle(client))
    execute = [*stratoflow_command(), "execute"]

    done = subprocess.run([*execute, str(quick)], env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert code_folders(tmp) == []

    process = subprocess.Popen([*execute, str(slow)], env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for(in_state(client, slow, StateType.RUNNING), "the flow to start")
        assert len(code_folders(tmp)) == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
    assert code_folders(tmp) == []
    assert client.read_flow_run(slow).state.type is StateType.CRASHED


# --- the reason a run could not start ------------------------------------------------------


def test_a_refused_bundle_fails_the_run_with_the_reason_in_its_state_message(
    live_api: LiveApi, client: StratoflowClient, home: Path, tmp: Path, tmp_path: Path
) -> None:
    queue, log = queue_name(), tmp_path / "agent.log"
    escaping = zip_bundle(client, {"sleepy_flow.py": SLEEPY, "../escaped.py": b"print('out')"})
    run_id = start_run(client, queue, "sleepy_flow.py:sleepy", escaping)
    with agent_process(agent_env(live_api, home, tmp), queue, log):
        wait_for(in_state(client, run_id, StateType.FAILED), "the run to fail")
        wait_for(lambda: "exit code 2" in log.read_text(), "the agent to reap exit code 2")
    state = client.read_flow_run(run_id).state
    assert "entry '../escaped.py' would be written outside" in (state.message or "")
    assert not (tmp.parent / "escaped.py").exists()


def test_a_process_that_dies_before_telling_the_api_is_crashed_with_its_last_stderr_lines(
    client: StratoflowClient, tmp: Path, tmp_path: Path
) -> None:
    queue = queue_name()
    run_id = start_run(client, queue, "sleepy_flow.py:sleepy", sleepy_bundle(client))
    says_why = "import sys; sys.stderr.write('noise\\nthe real reason\\n'); sys.exit(2)"
    command = [sys.executable, "-c", says_why]  # gets `execute <id>` as its arguments
    with agent_in_thread(
        client,
        queue,
        dict(os.environ),
        workspace_root=workspace(tmp),
        command=command,
        stream_output=False,
    ) as agent:
        wait_for(in_state(client, run_id, StateType.CRASHED), "the crash to be recorded")
        wait_for(lambda: not agent.active, "the agent to reap the run")
    message = client.read_flow_run(run_id).state.message or ""
    assert message.startswith("Flow run infrastructure exited with exit code 2: ")
    assert message.endswith("noise\nthe real reason")
