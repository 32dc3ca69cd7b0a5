"""Process helpers for the benchmark suite: polling with a deadline, memory of a process tree
(from /proc, no extra packages), free ports, and running a worker script that answers with one
JSON line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def wait_for(check: Callable[[], bool], seconds: float, what: str, every: float = 0.05) -> None:
    """Poll `check` until it is true; TimeoutError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    """A free loopback port (bound and released: good enough for a benchmark)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_rss_mib(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, MiB (0 when it is gone)."""
    tree, todo, total = _children(), [pid], 0
    while todo:
        current = todo.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError):
            continue
        todo.extend(tree.get(current, []))
    return total / 2**20


class PeakSampler:
    """Samples a process tree's RSS in a thread; `peak` is the largest sample (MiB)."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        self.pid, self.every, self.peak = pid, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, tree_rss_mib(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def run_worker(
    python: str | Path,
    script: Path,
    args: Sequence[str],
    env: Mapping[str, str],
    timeout: float = 3600,
) -> dict[str, Any]:
    """Run `python script args...`; its last stdout line, parsed as JSON."""
    done = subprocess.run(
        [str(python), str(script), *args],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=timeout,
        cwd=script.parent,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
