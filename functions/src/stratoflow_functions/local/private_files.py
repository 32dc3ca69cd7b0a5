"""Owner-only storage for the local stack under `$STRATOFLOW_HOME`: every folder the stack
makes is 0700 and every file 0600, whatever the process umask.

Files are created with an explicit mode and then set to it exactly (a umask only removes bits:
022 would be harmless, but one as strict as 0277 would leave a file the stack cannot write).
The process umask itself is left alone, so the flows the agent starts keep the user's. Data a
previous version left with looser modes is tightened at start (`secure_home`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)
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


def secure_home(home: Path, data_dir: Path) -> int:
    """Make the home and the data folder owner-only, and tighten what the data folder holds.

    A home that is not the user's own folder (another owner, or a shared folder with the
    sticky bit, such as /tmp) is left as it is, with a warning; what the stack puts in it is
    owner-only all the same.

    Returns:
        How many paths under the data folder had looser modes and were tightened.
    """
    if os.path.lexists(home):
        _tighten_home(home)
    else:
        private_dir(home)
    private_dir(data_dir)
    return tighten_tree(data_dir)


def _tighten_home(home: Path) -> None:
    info = home.stat()
    if info.st_uid != os.geteuid() or info.st_mode & stat.S_ISVTX:
        logger.warning(
            "%s is a shared folder; it is left as it is (the stack's own files in it are "
            "readable by their owner only); set STRATOFLOW_HOME to a folder of your own",
            home,
        )
        return
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        os.chmod(home, DIR_MODE)


def tighten_tree(root: Path) -> int:
    """Set every folder under `root` (itself included) to 0700 and every file to 0600.

    Symbolic links are neither followed nor changed.

    Returns:
        How many paths were changed.
    """
    changed = int(_tighten(root, DIR_MODE))
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            changed += _tighten(Path(folder, name), DIR_MODE)
        for name in files:
            changed += _tighten(Path(folder, name), FILE_MODE)
    return changed


def _tighten(path: Path, mode: int) -> bool:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or stat.S_IMODE(info.st_mode) == mode:
        return False
    os.chmod(path, mode)
    return True
