"""`LocalAgent`: runs each claimed flow run as a `stratoflow execute` process on this machine.

Each run gets its own process group (so stopping it stops whatever it started), a fresh working
folder in the agent's workspace (removed when the run ends, or by a later agent if this one
dies: see `workspace`), which is also its `TMPDIR`, and the agent's environment plus
`STRATOFLOW_API_URL`, `STRATOFLOW_API_KEY` and `STRATOFLOW_FLOW_RUN_ID` (SPEC section 7). The
API key travels only in the child's environment: never on its command line, never in a log.
The child's stderr is passed through and its last lines kept, for the CRASHED message when it
dies without saying why. POSIX only (process groups, signals, `flock`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

from stratoflow.client.settings import ClientSettings
from stratoflow.schemas import ClaimedRun, InfrastructureType
from stratoflow_agents.base import BaseAgent
from stratoflow_agents.config import AgentConfig
from stratoflow_agents.errors import LaunchError
from stratoflow_agents.handles import RunHandle
from stratoflow_agents.output import StderrTail
from stratoflow_agents.reporting import AgentClient
from stratoflow_agents.workspace import RunFolder, Workspace, WorkspaceError, default_root

logger = logging.getLogger("stratoflow.agent")


def stratoflow_command(python: str = sys.executable) -> list[str]:
    """How to invoke the `stratoflow` CLI with the same interpreter as this agent.

    The SDK has no `__main__`, so `python -m stratoflow` does not work: use the console script
    installed next to the interpreter, or, where there is none, call the CLI's entry point
    through the interpreter directly.
    """
    script = Path(python).parent / "stratoflow"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [python, "-c", "from stratoflow.cli import main; main()"]


def execute_command(flow_run_id: UUID, base: Sequence[str]) -> list[str]:
    """The command that runs one flow run: `stratoflow execute <id>`."""
    return [*base, "execute", str(flow_run_id)]


def run_environment(
    base_env: Mapping[str, str], settings: ClientSettings, flow_run_id: UUID
) -> dict[str, str]:
    """The flow process's environment: the agent's, plus where the API is and which run.

    Args:
        base_env: the agent's own environment.
        settings: the agent's API settings (URL and key are passed on).
        flow_run_id: the run the process executes.
    """
    env = dict(base_env)
    if settings.api_url:
        env["STRATOFLOW_API_URL"] = settings.api_url
    if settings.api_key:
        env["STRATOFLOW_API_KEY"] = settings.api_key
    env["STRATOFLOW_FLOW_RUN_ID"] = str(flow_run_id)
    return env


class LocalRunHandle(RunHandle):
    """A flow run's process (the leader of its own process group) and its working folder.

    Args:
        process: the started process (started with `start_new_session=True`).
        workdir: its working folder, removed by `cleanup()`.
        lock_fd: the open file that marks the folder in use (closed by `cleanup()`).
        stderr: the copy of its stderr, whose last lines `failure_detail()` gives.
    """

    def __init__(
        self,
        process: subprocess.Popen[Any],
        workdir: Path,
        *,
        lock_fd: int | None = None,
        stderr: StderrTail | None = None,
    ) -> None:
        self.process = process
        self.workdir = workdir
        self._lock_fd = lock_fd
        self._stderr = stderr

    @property
    def infrastructure_id(self) -> str:
        """`pid:<pid>`."""
        return f"pid:{self.process.pid}"

    def poll(self) -> int | None:
        """The process's exit code once it has ended (negative: killed by that signal)."""
        return self.process.poll()

    def terminate(self) -> None:
        """SIGTERM to the whole process group."""
        self._signal_group(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the whole process group."""
        self._signal_group(signal.SIGKILL)

    def failure_detail(self) -> str | None:
        """The last lines the process wrote to stderr, if any were kept."""
        return (self._stderr.text() or None) if self._stderr is not None else None

    def cleanup(self) -> None:
        """Remove the working folder, then release it."""
        if self._lock_fd is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            RunFolder(self.workdir, self._lock_fd).remove()
            self._lock_fd = None

    def _signal_group(self, signum: signal.Signals) -> None:
        if self.process.poll() is not None:
            return  # reaped: its pid (and group id) may belong to someone else by now
        with contextlib.suppress(ProcessLookupError):  # ended between the poll and the signal
            os.killpg(self.process.pid, signum)


class LocalAgent(BaseAgent):
    """Runs flow runs as local processes: `stratoflow execute <flow-run-id>`.

    Args:
        config: how to poll, watch and stop runs.
        client: the API.
        settings: the API settings handed to each flow process (URL, key).
        base_env: the environment flow processes inherit (the agent's, read once by the CLI).
        command: the `stratoflow` CLI invocation (default: `stratoflow_command()`).
        stream_output: whether flow processes write to the agent's stdout/stderr (else
            their output is discarded, but for the last stderr lines; their logs still reach
            the API).
        workspace_root: where agents keep their run folders (default: `default_root()`).
        **kwargs: clock, sleep, rand, agent_id (see `BaseAgent`).
    """

    infrastructure: ClassVar[InfrastructureType] = InfrastructureType.LOCAL

    def __init__(
        self,
        config: AgentConfig,
        client: AgentClient,
        settings: ClientSettings,
        base_env: Mapping[str, str],
        *,
        command: Sequence[str] | None = None,
        stream_output: bool = True,
        workspace_root: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, client, **kwargs)
        self.settings = settings
        self.base_env = dict(base_env)
        self.command = list(command) if command is not None else stratoflow_command()
        self.stream_output = stream_output
        name = f"{os.getpid()}-{self.agent_id}"
        self.workspace = Workspace(workspace_root or default_root(), name)

    def prepare(self) -> None:
        """Lock this agent's workspace and remove what dead agents and their runs left."""
        for folder in self.workspace.open():
            logger.info("removed %s, left by an agent that is gone", folder)

    def release(self) -> None:
        """Remove this agent's (empty) workspace folder and unlock it."""
        self.workspace.close()

    def launch(self, claimed: ClaimedRun) -> LocalRunHandle:
        """Start `stratoflow execute <id>` in a fresh folder and its own process group.

        Raises:
            LaunchError: the folder or the process could not be made.
        """
        run_id = claimed.flow_run.id
        try:
            folder = self.workspace.new_run_folder(run_id)
        except (OSError, WorkspaceError) as exc:
            raise LaunchError(f"cannot make a working folder: {exc}") from exc
        try:
            process = self._spawn(run_id, folder)
        except OSError as exc:
            folder.remove()
            raise LaunchError(f"cannot start {self.command[0]!r}: {exc}") from exc
        assert process.stderr is not None  # piped above
        sink = sys.stderr.buffer if self.stream_output else None
        tail = StderrTail(process.stderr, sink, name=f"stderr-{run_id}")
        return LocalRunHandle(process, folder.path, lock_fd=folder.lock_fd, stderr=tail)

    def _spawn(self, run_id: UUID, folder: RunFolder) -> subprocess.Popen[bytes]:
        env = run_environment(self.base_env, self.settings, run_id)
        env["TMPDIR"] = str(folder.path)  # its code folder and temporary files go with the run
        return subprocess.Popen(  # noqa: S603 (our own CLI, no shell, args are ids)
            execute_command(run_id, self.command),
            cwd=folder.path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=None if self.stream_output else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=(folder.lock_fd,),  # held by the child too: the folder is in use
        )
