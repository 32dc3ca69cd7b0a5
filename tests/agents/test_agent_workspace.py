"""The local agent's workspace with real processes and real locks: what a killed agent left is
removed by the next one, except what a live process (another agent, an orphaned flow) holds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest

from stratoflow_agents.workspace import Workspace, WorkspaceError

# A stand-in for an agent: opens its workspace, makes two run folders, starts a "flow process"
# holding the second one's lock (as the local agent hands it on), says where, then waits.
DOOMED_AGENT = """
import json, subprocess, sys, time, uuid
from pathlib import Path
from stratoflow_agents.workspace import Workspace
ws = Workspace(Path(sys.argv[1]), "doomed")
ws.open()
gone, kept = ws.new_run_folder(uuid.uuid4()), ws.new_run_folder(uuid.uuid4())
flow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                        pass_fds=(kept.lock_fd,), start_new_session=True)
print(json.dumps([str(gone.path), str(kept.path), flow.pid]), flush=True)
time.sleep(600)
"""


def test_a_killed_agents_folders_go_but_not_those_a_live_process_holds(tmp_path: Path) -> None:
    root = tmp_path / "agents"
    live = Workspace(root, "live")
    live.open()
    live_run = live.new_run_folder(uuid4())
    doomed = subprocess.Popen(
        [sys.executable, "-c", DOOMED_AGENT, str(root)], stdout=subprocess.PIPE, text=True
    )
    assert doomed.stdout is not None
    gone, kept, flow_pid = json.loads(doomed.stdout.readline())
    doomed.kill()  # SIGKILL: no clean-up; its flow process lives on
    doomed.wait(timeout=10)
    doomed.stdout.close()
    try:
        removed = Workspace(root, "second").open()
        assert removed == [Path(gone)]
        assert Path(kept).is_dir()
        assert live_run.path.is_dir()
    finally:
        os.kill(flow_pid, signal.SIGKILL)  # an orphan now: init reaps it
    _wait_unlocked(Path(kept))

    removed = Workspace(root, "third").open()

    assert set(removed) == {Path(kept), root / "doomed"}
    assert live_run.path.is_dir()
    assert sorted(p.name for p in root.iterdir()) == ["live", "second", "third"]


def _wait_unlocked(kept: Path) -> None:
    """Wait (with a deadline) until no process holds the folder's lock open."""
    deadline = time.monotonic() + 10
    while any(_holds(pid, kept) for pid in _pids()):
        assert time.monotonic() < deadline, "the flow process did not end"
        time.sleep(0.05)


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _holds(pid: int, folder: Path) -> bool:
    try:
        targets = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return str(folder / ".lock") in targets


def test_an_agent_removes_its_own_empty_folder_when_it_closes(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "agents", "me")
    workspace.open()
    folder = workspace.new_run_folder(uuid4())
    folder.remove()
    workspace.close()
    assert list((tmp_path / "agents").iterdir()) == []


def test_a_second_agent_cannot_take_a_live_agents_folder(tmp_path: Path) -> None:
    Workspace(tmp_path / "agents", "taken").open()
    with pytest.raises(WorkspaceError, match="in use by another agent"):
        Workspace(tmp_path / "agents", "taken").open()


def test_a_root_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "agents").symlink_to(elsewhere)
    with pytest.raises(WorkspaceError, match="not a folder owned by this user"):
        Workspace(tmp_path / "agents", "me").open()
    assert list(elsewhere.iterdir()) == []
