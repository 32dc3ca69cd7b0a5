"""Run a callable with a time limit.

Python cannot kill a thread, so the body runs in a daemon thread and the caller stops waiting
after `seconds`. The engine then reports TimedOut and moves on; as a best effort the late thread
is sent an exception (`PyThreadState_SetAsyncExc`) so pure-Python code stops at its next bytecode,
while a body blocked in C (a socket read, say) finishes in the background and is ignored.
"""

from __future__ import annotations

import contextvars
import ctypes
import threading
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


class _Abandoned(BaseException):  # delivered into a thread nobody waits for
    """Stops a timed-out body; nobody catches it (the thread just ends)."""


def call_with_timeout(fn: Callable[[], R], seconds: float, error: Callable[[], BaseException]) -> R:
    """Call `fn` (in a copy of the current context); raise `error()` after `seconds`."""
    box: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = context.run(fn)
        except _Abandoned:
            pass
        except BaseException as exc:  # handed back to the waiting caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="stratoflow-timed", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        _interrupt(thread)
        raise error()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _interrupt(thread: threading.Thread) -> None:
    if thread.ident is None:
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(_Abandoned)
    )
