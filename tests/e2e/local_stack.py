"""Helpers for the local-stack end-to-end tests: `stratoflow server start` as a real process,
polled (never slept on) until it is ready, stopped or gone."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from stratoflow.client import StratoflowClient, load_client_settings
from stratoflow.client.profile import read_profile

STRATOFLOW = str(Path(sys.executable).with_name("stratoflow"))
READY = re.compile(r"local stack ready at (http://\S+)")
AGENT_PID = re.compile(r"local agent started \(pid (\d+)\)")
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)  # a poll interval, not a wait for something to happen


def stack_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a stack (and of CLI calls against it): only STRATOFLOW_HOME says
    where the API is, through the profile the stack writes. Push launches are off (they add
    seconds to every start) unless a test asks for them (`STRATOFLOW_LOCAL_LAUNCHERS="1"`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATOFLOW_")}
    env.update(STRATOFLOW_HOME=str(home), STRATOFLOW_LOCAL_TICK_SCALE="0.05", PYTHONUNBUFFERED="1")
    env.update(STRATOFLOW_LOCAL_LAUNCHERS="0")
    env.update(extra)
    return env


@dataclass
class ServerProcess:
    """One `stratoflow server start` process and its captured output."""

    home: Path
    process: subprocess.Popen[bytes]
    out: Path
    err: Path
    url: str = ""
    agent_pid: int | None = None
    key: str = field(default="", repr=False)

    def output(self) -> str:
        """Everything it printed so far (stdout then stderr)."""
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> ServerProcess:
        """Wait for the ready line and a healthy API; read the URL, key and agent pid."""
        match = wait_for(lambda: self._ready_or_dead(), timeout, "the local stack to be ready")
        self.url = match.group(1)
        wait_for(lambda: _healthy(self.url), 10, "/health")
        self.key = read_profile(self.home / "profile.toml")["api_key"]
        pid = wait_for(lambda: AGENT_PID.search(self.output()), 10, "the local agent")
        self.agent_pid = int(pid.group(1))
        return self

    def _ready_or_dead(self) -> re.Match[str] | None:
        if self.process.poll() is not None:
            raise AssertionError(f"server exited with {self.process.returncode}:\n{self.output()}")
        return READY.search(self.output())

    def client(self) -> StratoflowClient:
        """An API client for this stack."""
        return StratoflowClient(load_client_settings(api_url=self.url, api_key=self.key))

    def interrupt(self, timeout: float = 30.0) -> int:
        """Ctrl-C: SIGINT, then its exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """kill -9."""
        self.process.kill()
        self.process.wait(timeout=10)


def start_server(
    home: Path,
    tag: str,
    *,
    port: int = 0,
    env: dict[str, str] | None = None,
    umask: int = -1,
) -> ServerProcess:
    """Start `stratoflow server start --port PORT` with its own home; output to files.

    `umask` is the server's (-1: this process's).
    """
    out, err = home.parent / f"{tag}.out", home.parent / f"{tag}.err"
    process = subprocess.Popen(
        [STRATOFLOW, "server", "start", "--port", str(port)],
        env=env or stack_env(home),
        stdout=out.open("wb"),
        stderr=err.open("wb"),
        umask=umask,
    )
    return ServerProcess(home=home, process=process, out=out, err=err)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def process_gone(pid: int) -> bool:
    """Whether `pid` is gone (a zombie nobody reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:
        return not _exists(pid)
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_quietly(server: ServerProcess) -> None:
    """Test clean-up: make sure the server and its agent are gone."""
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=10)
    if server.agent_pid and not process_gone(server.agent_pid):
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(server.agent_pid, signal.SIGKILL)
