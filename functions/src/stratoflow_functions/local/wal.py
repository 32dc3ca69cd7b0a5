"""The local stack's write-ahead log: every emulator request that changed state, in the order
the emulator applied it.

An entry is the WSGI request itself (the CGI-style environ strings and the body), so replaying
it through moto's application reproduces the write exactly. Entries are appended and flushed
to the operating system before the emulator's answer is sent, so anything a caller saw
acknowledged survives the death of the process (kill -9 included; a power cut can lose the
last writes the OS had not yet put on disk unless `fsync` is on). A torn last line, from a
crash mid-append, was never acknowledged and is ignored on reading. Log files are 0600
(`private_files.py`): they hold every write, API-key hashes included.
"""

from __future__ import annotations

import base64
import io
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from stratoflow_functions.local.private_files import open_private

PRESERVED_NAMES_KEY = "moto.preserved_header_names"
"""moto's environ entry for header spellings with underscores (a dict, kept as is)."""


@dataclass(frozen=True)
class WalEntry:
    """One recorded write: the request's environ strings, its body, and its AWS service."""

    environ: dict[str, Any]
    body: bytes
    service: str

    def to_line(self) -> str:
        """The entry as one JSON line."""
        body = base64.b64encode(self.body).decode("ascii")
        return json.dumps({"e": self.environ, "b": body, "s": self.service}) + "\n"

    @classmethod
    def from_line(cls, line: str) -> WalEntry:
        """Parse a line written by `to_line` (raises ValueError on a torn line)."""
        data = json.loads(line)
        return cls(environ=data["e"], body=base64.b64decode(data["b"]), service=data["s"])

    def wsgi_environ(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """A fresh WSGI environ for replaying this request (`base` gives the wsgi.* keys)."""
        environ = {**base, **self.environ}
        environ["wsgi.input"] = io.BytesIO(self.body)
        environ["CONTENT_LENGTH"] = str(len(self.body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return environ


def entry_from_environ(environ: Mapping[str, Any], body: bytes, service: str) -> WalEntry:
    """Capture what is needed to replay a request (strings only; sockets and streams go)."""
    kept: dict[str, Any] = {
        key: value
        for key, value in environ.items()
        if isinstance(value, str) and not key.startswith("wsgi.")
    }
    names = environ.get(PRESERVED_NAMES_KEY)
    if isinstance(names, dict):
        kept[PRESERVED_NAMES_KEY] = dict(names)
    return WalEntry(environ=kept, body=body, service=service)


def read_entries(path: Path) -> Iterator[WalEntry]:
    """The entries of a log file in order; a missing file is empty, a torn tail is dropped."""
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            if not line.endswith("\n"):
                return  # torn by a crash mid-append: never acknowledged
            try:
                yield WalEntry.from_line(line)
            except (ValueError, KeyError):
                return


def _truncate_torn_tail(path: Path) -> int:
    """Cut a torn last line off the file (so new entries never join it); count the entries."""
    count, good = 0, 0
    try:
        with path.open("rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                try:
                    WalEntry.from_line(line.decode("utf-8"))
                except (ValueError, KeyError):
                    break
                count, good = count + 1, good + len(line)
    except FileNotFoundError:
        return 0
    os.truncate(path, good)
    return count


class WriteAheadLog:
    """An append-only log file; `append` returns once the entry is handed to the OS."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        self.count = _truncate_torn_tail(path)
        self._lock = threading.Lock()
        self._handle: IO[str] = open_private(path, "a")

    def append(self, entry: WalEntry) -> None:
        """Write one entry and flush it (and fsync it when asked)."""
        with self._lock:
            self._handle.write(entry.to_line())
            self._handle.flush()
            if self.fsync:
                os.fsync(self._handle.fileno())
            self.count += 1

    def close(self) -> None:
        """Close the file (appending afterwards is an error)."""
        with self._lock:
            self._handle.close()
