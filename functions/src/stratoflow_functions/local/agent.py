"""The local stack's agent: `stratoflow agent start --type local --work-queue default` as a
child process, restarted (with a growing pause) whenever it dies, stopped with the stack.

The child gets the environment the user started the stack with (not the stack's emulator
credentials, which mean nothing to flows) plus the API URL and key; the key goes through the
environment, never the command line. It runs in its own process group so a stop reaches it and
everything it left behind, and the agent's own runs are given its shutdown grace to end. On
Linux the child also gets SIGTERM if the stack itself is killed (kill -9 included).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

logger = logging.getLogger(__name__)
AGENTS_PACKAGE = "stratoflow_agents"
RESTART_PAUSES = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before each restart in a row; a child that lived a minute resets the count."""
HEALTHY_SECONDS = 60.0


def agents_available() -> bool:
    """Whether the agents package is installed (the local agent lives there)."""
    return importlib.util.find_spec(AGENTS_PACKAGE) is not None


def agent_command(work_queue: str) -> list[str]:
    """The command that starts a local agent on `work_queue`."""
    script = Path(sys.executable).with_name("stratoflow")
    program = str(script) if script.exists() else (shutil.which("stratoflow") or "stratoflow")
    return [program, "agent", "start", "--type", "local", "--work-queue", work_queue]


class AgentSupervisor:
    """Keeps one local agent process running until `stop()`."""

    def __init__(
        self, command: list[str], env: Mapping[str, str], *, stop_grace: float = 30.0
    ) -> None:
        self.command = command
        self.env = dict(env)
        self.stop_grace = stop_grace
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the agent and a thread that restarts it when it dies."""
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="stratoflow-agent", daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self.process = subprocess.Popen(  # noqa: S603 - our own console script
                self.command,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
            self.starts += 1
        logger.info("local agent started (pid %s)", self.process.pid)

    def _watch(self) -> None:
        failures = 0
        while not self._stop.is_set():
            process = self.process
            assert process is not None
            started = _now()
            code = process.wait()
            if self._stop.is_set():
                return
            failures = 0 if _now() - started > HEALTHY_SECONDS else failures + 1
            pause = RESTART_PAUSES[min(max(failures, 1), len(RESTART_PAUSES)) - 1]
            logger.warning("local agent exited with %s; restarting in %.0f s", code, pause)
            if self._stop.wait(pause):
                return
            self._spawn()

    def stop(self) -> int | None:
        """Stop the agent: SIGTERM to its group, SIGKILL after the grace; its exit code."""
        with self._lock:
            self._stop.set()
            process = self.process
        if process is None:
            return None
        code = terminate_group(process, self.stop_grace)
        if self._thread is not None:
            self._thread.join(timeout=5)
        return code


def terminate_group(process: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM a child's process group, SIGKILL it after `grace` seconds; the exit code."""
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            logger.warning("local agent did not stop in %.0f s; killing it", grace)
    _signal_group(process.pid, signal.SIGKILL)  # whatever is left of its group
    return process.wait()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(pid, sig)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the stack dies (even by kill -9),
    so a killed stack never leaves its agent polling a dead API."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _now() -> float:
    import time

    return time.monotonic()
