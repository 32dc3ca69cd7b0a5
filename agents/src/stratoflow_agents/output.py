"""A flow process's stderr: passed through to the agent's, with its last lines kept.

When a flow process dies before it could tell the API why (it could not reach it, or it was
killed), the last lines it wrote to stderr are the best account there is, so the agent puts
them in the CRASHED state it records. One small thread per run copies the pipe; the agent loop
itself stays on its one thread and only reads the tail once the process has ended.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import IO

TAIL_LINES = 10
"""How many of the last stderr lines are kept."""
TAIL_CHARS = 1000
"""The most characters of them that go into a state message."""
LINE_BYTES = 8192
"""Longer lines are read in pieces of this size (a line without end never grows unbounded)."""
JOIN_SECONDS = 2.0
"""How long `text()` waits for the copy to drain (a grandchild may hold the pipe open)."""


class StderrTail:
    """Copies `stream` to `sink` (when given) line by line, keeping the last lines.

    Args:
        stream: the child's stderr pipe (closed when the copy ends).
        sink: where to pass the lines on (the agent's stderr), or None to keep them only.
        name: the copying thread's name.
    """

    def __init__(self, stream: IO[bytes], sink: IO[bytes] | None, name: str) -> None:
        self._stream = stream
        self._sink = sink
        self._lines: deque[bytes] = deque(maxlen=TAIL_LINES)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._copy, name=name, daemon=True)
        self._thread.start()

    def text(self) -> str:
        """The last non-blank lines written, at most `TAIL_CHARS` characters of their end."""
        self._thread.join(JOIN_SECONDS)
        with self._lock:
            lines = list(self._lines)
        decoded = (line.decode("utf-8", "replace").rstrip() for line in lines)
        text = "\n".join(line for line in decoded if line.strip())
        return text[-TAIL_CHARS:]

    def _copy(self) -> None:
        try:
            for line in iter(lambda: self._stream.readline(LINE_BYTES), b""):
                with self._lock:
                    self._lines.append(line)
                self._pass_on(line)
        finally:
            self._stream.close()

    def _pass_on(self, line: bytes) -> None:
        if self._sink is None:
            return
        try:
            self._sink.write(line)
            self._sink.flush()
        except (OSError, ValueError):
            self._sink = None  # the agent's stderr is gone: keep the tail, stop copying


__all__ = ["JOIN_SECONDS", "LINE_BYTES", "TAIL_CHARS", "TAIL_LINES", "StderrTail"]
