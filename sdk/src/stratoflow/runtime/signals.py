"""SIGTERM → `TerminationSignal` in the main thread, so the engine can report CRASHED first.

The outermost flow run installs the handler (only possible from the main thread) and restores the
previous one when it ends. After the engine has recorded the crash it calls `resend()`, which
delivers the signal again to the previous handler, so the process still dies the way the sender
meant it to.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

from stratoflow.exceptions import TerminationSignal


class TerminationGuard:
    """Installs a SIGTERM handler raising `TerminationSignal` for the duration of a run."""

    def __init__(self) -> None:
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> TerminationGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, _raise_termination)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Put the previous handler back."""
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)
            self._installed = False

    def resend(self, signum: int) -> None:
        """Restore the previous handler and deliver `signum` to it (default: terminate)."""
        self.restore()
        if self._previous in (signal.SIG_DFL, None):
            os.kill(os.getpid(), signum)


def _raise_termination(signum: int, frame: FrameType | None) -> None:
    del frame
    raise TerminationSignal(signum)
