"""Owner-only files under `$STRATOFLOW_HOME` (the profile with its key, the local stack's data):
folders 0700 and files 0600, whatever the process umask.

Files are created with an explicit mode and then set to it exactly (a umask only removes bits:
022 would be harmless, but one as strict as 0277 would leave a file its owner cannot write).
The process umask itself is left alone. The local stack (`stratoflow_functions.local`) uses the
same two primitives for its log and snapshots.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

DIR_MODE = 0o700
FILE_MODE = 0o600
_FLAGS = {
    "w": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
}


def open_private(path: Path, mode: str = "w") -> IO[str]:
    """Open a text file 0600 for writing ("w": always a new file) or appending ("a").

    "w" replaces any file already there instead of truncating it, so a descriptor someone
    opened on the old file never sees the new contents. A symbolic link as the last component
    is never followed (the open fails instead).
    """
    if mode == "w":
        path.unlink(missing_ok=True)
    fd = os.open(path, _FLAGS[mode] | os.O_CLOEXEC | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def private_dir(path: Path) -> Path:
    """Make `path` an owner-only folder, creating it and any missing parents (all 0700)."""
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile: tightened just below
            os.mkdir(folder, DIR_MODE)
        os.chmod(folder, DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path
