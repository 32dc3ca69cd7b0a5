"""SIGINT and SIGTERM → `BaseAgent.request_stop()`, for as long as the agent runs.

The handler only counts the request (no I/O, no locks), so it is safe whatever the loop is
doing; the loop notices at its next tick (within `watch_interval`). A second signal skips the
shutdown grace. The previous handlers come back when the block ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from stratoflow_agents.base import BaseAgent

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(agent: BaseAgent) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM ask `agent` to stop (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _handler(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        agent.request_stop()

    previous: dict[signal.Signals, Any] = {
        sig: signal.signal(sig, _handler) for sig in STOP_SIGNALS
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
