"""`LocalAgent`: runs each claimed flow run as a `stratoflow execute` process on this machine.

Each run gets its own process group (so stopping it stops whatever it started), a fresh
temporary working folder (removed when the run ends) and the agent's environment plus
`STRATOFLOW_API_URL`, `STRATOFLOW_API_KEY` and `STRATOFLOW_FLOW_RUN_ID` (SPEC section 7). The
API key travels only in the child's environment: never on its command line, never in a log.
POSIX only (process groups and signals).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
from stratoflow_agents.reporting import AgentClient


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
        workdir: its temporary working folder, removed by `cleanup()`.
    """

    def __init__(self, process: subprocess.Popen[Any], workdir: Path) -> None:
        self.process = process
        self.workdir = workdir

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

    def cleanup(self) -> None:
        """Remove the working folder."""
        shutil.rmtree(self.workdir, ignore_errors=True)

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
            their output is discarded; their logs still reach the API).
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
        **kwargs: Any,
    ) -> None:
        super().__init__(config, client, **kwargs)
        self.settings = settings
        self.base_env = dict(base_env)
        self.command = list(command) if command is not None else stratoflow_command()
        self.stream_output = stream_output

    def launch(self, claimed: ClaimedRun) -> LocalRunHandle:
        """Start `stratoflow execute <id>` in a fresh folder and its own process group.

        Raises:
            LaunchError: the process could not be started.
        """
        run_id = claimed.flow_run.id
        workdir = Path(tempfile.mkdtemp(prefix=f"stratoflow-run-{run_id}-"))
        output = None if self.stream_output else subprocess.DEVNULL
        try:
            process = subprocess.Popen(  # noqa: S603 (our own CLI, no shell, args are ids)
                execute_command(run_id, self.command),
                cwd=workdir,
                env=run_environment(self.base_env, self.settings, run_id),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        except OSError as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            raise LaunchError(f"cannot start {self.command[0]!r}: {exc}") from exc
        return LocalRunHandle(process, workdir)
