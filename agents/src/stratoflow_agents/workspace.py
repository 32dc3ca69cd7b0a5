"""Where the local agent keeps its runs' working folders, and cleaning up after dead agents.

Layout: `<root>/<pid>-<agent id>/stratoflow-run-<flow run id>-*/`, with `root` by default
`$TMPDIR/stratoflow-agents-<uid>` (mode 0700; it must be a folder of this user's). The flow
process gets its run folder as `TMPDIR` too, so its code folder (`stratoflow-code-*`) and the
flow's own temporary files land inside it.

Ownership is a lock, not a pid (pids are reused): each agent folder holds a `.lock` file that
its agent keeps locked (`flock`) while it lives, and each run folder a `.lock` that the agent
locks and hands to the flow process as an open file, so it stays locked while either of them
lives. The kernel drops a lock when the last process holding it ends, kill -9 included. On
start an agent removes, in every other agent folder whose lock it can take (that agent is
dead), the run folders whose lock it can take too (their flow process is gone as well), then
the agent folder once empty. A folder whose lock is held is never touched: another live agent's,
or a run whose flow process outlived its agent (that one goes at a later start, once it ended).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from stratoflow_agents.errors import AgentError

LOCK_NAME = ".lock"
RUN_PREFIX = "stratoflow-run-"


class WorkspaceError(AgentError):
    """The agent's workspace folder cannot be used (not ours, not a folder, already locked)."""


def default_root() -> Path:
    """`$TMPDIR/stratoflow-agents-<uid>`: one folder per user, so users never share one."""
    return Path(tempfile.gettempdir()) / f"stratoflow-agents-{os.getuid()}"


@dataclass
class RunFolder:
    """One run's working folder and the open, locked file that says it is in use.

    Attributes:
        path: the folder.
        lock_fd: the locked `.lock` file, to be passed on to the flow process.
    """

    path: Path
    lock_fd: int

    def remove(self) -> None:
        """Delete the folder, then let go of its lock (in that order: never unlocked but there)."""
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(self.lock_fd)


class Workspace:
    """One agent's folder under the shared root, locked while the agent lives.

    Args:
        root: the folder every agent of this user keeps its folder in.
        name: this agent's folder name (unique: the agent's pid and id).
    """

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.folder = root / name
        self._lock_fd: int | None = None

    def open(self) -> list[Path]:
        """Create and lock this agent's folder, then clean up after dead agents.

        Returns:
            The folders removed (run folders and agent folders of agents that are gone).

        Raises:
            WorkspaceError: the root is not a private folder of this user's, or the agent
                folder is locked by another process.
        """
        if self._lock_fd is not None:
            return []
        _ensure_private_folder(self.root)
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self._lock_fd = _try_lock(self.folder / LOCK_NAME, create=True)
        if self._lock_fd is None:
            raise WorkspaceError(f"{self.folder} is in use by another agent")
        return self.sweep()

    def sweep(self) -> list[Path]:
        """Remove what dead agents left (see the module docstring); the folders removed."""
        removed: list[Path] = []
        for folder in _entries(self.root):
            if folder != self.folder and _is_real_folder(folder):
                removed.extend(_clean_dead_agent(folder))
        return removed

    def new_run_folder(self, flow_run_id: UUID) -> RunFolder:
        """A fresh, locked working folder for one run (opening the workspace if need be).

        Raises:
            WorkspaceError: see `open`.
            OSError: the folder could not be created.
        """
        self.open()
        path = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{flow_run_id}-", dir=self.folder))
        lock_fd = _try_lock(path / LOCK_NAME, create=True)
        if lock_fd is None:  # a folder mkdtemp just made is nobody else's
            raise WorkspaceError(f"{path} is locked by another process")
        return RunFolder(path, lock_fd)

    def close(self) -> None:
        """Remove this agent's folder if no run folder is left in it, and unlock it."""
        if self._lock_fd is None:
            return
        if not [entry for entry in _entries(self.folder) if entry.name != LOCK_NAME]:
            shutil.rmtree(self.folder, ignore_errors=True)
        os.close(self._lock_fd)
        self._lock_fd = None


def _ensure_private_folder(root: Path) -> None:
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700)
    info = root.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise WorkspaceError(
            f"{root} is not a folder owned by this user: remove it, or set TMPDIR elsewhere"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        root.chmod(0o700)


def _try_lock(path: Path, *, create: bool) -> int | None:
    """An open file at `path`, locked exclusively; None if someone holds it (or it is gone).

    The descriptor is not inheritable (Python's default), so a child gets it only when it is
    passed on explicitly.
    """
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []  # removed meanwhile by another agent's sweep


def _is_real_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _clean_dead_agent(folder: Path) -> list[Path]:
    # Never create a missing agent lock: an agent that has just made its folder is about to.
    lock_fd = _try_lock(folder / LOCK_NAME, create=False)
    if lock_fd is None:
        return []
    try:
        removed = [run for run in _entries(folder) if _remove_if_unused(run)]
        if not [entry for entry in _entries(folder) if entry.name != LOCK_NAME]:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        return removed
    finally:
        os.close(lock_fd)


def _remove_if_unused(run: Path) -> bool:
    if run.name == LOCK_NAME:
        return False
    if not _is_real_folder(run):
        run.unlink(missing_ok=True)
        return True
    lock_fd = _try_lock(run / LOCK_NAME, create=False)
    if lock_fd is None and (run / LOCK_NAME).exists():
        return False  # its flow process is still alive
    try:
        shutil.rmtree(run, ignore_errors=True)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    return True


__all__ = ["LOCK_NAME", "RUN_PREFIX", "RunFolder", "Workspace", "WorkspaceError", "default_root"]
