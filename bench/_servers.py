"""The two servers under test, each started as a user starts it, in a home folder of its own:
`stratoflow server start --port 0` (the local stack with its agent) and `prefect server start`
(Prefect 3 on SQLite, from its pinned venv). Each is ready when it says so (Stratoflow: its
"ready at" line; Prefect: `/api/health` answers); the seconds to ready are its start-up time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from _procs import PeakSampler, free_port, tree_rss_mib, wait_for

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PREFECT_VENV = ROOT / ".bench" / "prefect"
PREFECT_SPEC = ("prefect==3.9.1",)
"""The Prefect the issue's figures were measured against (its own venv, created on first use)."""
STRATOFLOW = Path(sys.executable).parent / "stratoflow"
READY = "local stack ready at "


def prefect_python() -> Path:
    """Prefect's interpreter, installing the pinned Prefect from PyPI on first use (and over
    another version left in `.bench/prefect`)."""
    python = PREFECT_VENV / "bin" / "python"
    pinned = PREFECT_SPEC[0].split("==")[1]
    if not list(PREFECT_VENV.glob(f"lib/python*/site-packages/prefect-{pinned}.dist-info")):
        uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
        if not python.exists():
            subprocess.run(
                [uv, "venv", "-q", str(PREFECT_VENV), "--python", sys.executable], check=True
            )
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(python), *PREFECT_SPEC], check=True
        )
    return python


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("STRATOFLOW_", "PREFECT_")) or name in ("VIRTUAL_ENV",):
            env.pop(name)
    return env


@dataclass
class Server:
    """A started server: its process, the environment its clients use, its start-up time."""

    system: str
    home: Path
    process: subprocess.Popen[bytes]
    client_env: dict[str, str]
    python: Path
    worker: Path
    startup_seconds: float
    idle_rss_mib: float = 0.0
    sampler: PeakSampler | None = field(default=None, repr=False)

    def rss_mib(self) -> float:
        """The server's resident memory now (the whole process tree: stack and agent)."""
        return tree_rss_mib(self.process.pid)

    def stop(self) -> float:
        """Stop it as a user does (SIGINT); the peak RSS seen while it ran."""
        peak = self.sampler.stop() if self.sampler else 0.0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return peak


def _launch(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A server process in its own session, its output appended to `log`."""
    return subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip


def _check_alive(process: subprocess.Popen[bytes], name: str, log: Path) -> None:
    """Raise, with the log's tail, if the server exited while we waited for it."""
    if process.poll() is not None:
        raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")


def _settle(server: Server, idle_seconds: float) -> Server:
    time.sleep(idle_seconds)  # let start-up work finish before reading idle memory
    server.idle_rss_mib = server.rss_mib()
    server.sampler = PeakSampler(server.process.pid)
    return server


def start_stratoflow(home: Path, idle_seconds: float = 1.0, agent: bool = True) -> Server:
    """`stratoflow server start --port 0` with `home` as STRATOFLOW_HOME."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**_clean_env(), "STRATOFLOW_HOME": str(home)}
    if not agent:
        env["STRATOFLOW_LOCAL_AGENT"] = "0"
    log = home / "server.log"
    log.write_bytes(b"")
    begin = time.perf_counter()
    process = _launch([str(STRATOFLOW), "server", "start", "--port", "0"], env, log)

    def ready() -> bool:
        _check_alive(process, "stratoflow server start", log)
        return READY in log.read_text(errors="replace")

    wait_for(ready, 600, "stratoflow server start", every=0.02)
    seconds = time.perf_counter() - begin
    server = Server(
        "stratoflow", home, process, env, Path(sys.executable), BENCH / "_sf_work.py", seconds
    )
    return _settle(server, idle_seconds)


def start_prefect(home: Path, idle_seconds: float = 1.0) -> Server:
    """`prefect server start` (SQLite in `home`) on a free port."""
    python = prefect_python()
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**_clean_env(), "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    client_env = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    log = home / "server.log"
    begin = time.perf_counter()
    command = [str(python.parent / "prefect"), "server", "start", "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    process = _launch(command, env, log)

    def ready() -> bool:
        _check_alive(process, "prefect server start", log)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    wait_for(ready, 600, "prefect server start", every=0.02)
    seconds = time.perf_counter() - begin
    server = Server("prefect", home, process, client_env, python, BENCH / "_pf_work.py", seconds)
    return _settle(server, idle_seconds)


def start(system: str, home: Path, idle_seconds: float = 1.0) -> Server:
    """Start `system` ("stratoflow" or "prefect") in `home`."""
    if system == "stratoflow":
        return start_stratoflow(home, idle_seconds)
    return start_prefect(home, idle_seconds)
