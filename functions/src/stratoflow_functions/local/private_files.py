"""Owner-only storage for the local stack under `$STRATOFLOW_HOME`: every folder the stack
makes is 0700 and every file 0600, whatever the process umask.

Files are created with an explicit mode and then set to it exactly (a umask only removes bits:
022 would be harmless, but one as strict as 0277 would leave a file the stack cannot write).
The process umask itself is left alone, so the flows the agent starts keep the user's. Data a
previous version left with looser modes is tightened at start (`secure_home`). The primitives
(`open_private`, `private_dir`) are the SDK's, shared with the profile writer.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from stratoflow._private_files import DIR_MODE, FILE_MODE, open_private, private_dir

logger = logging.getLogger(__name__)

__all__ = ["DIR_MODE", "FILE_MODE", "open_private", "private_dir", "secure_home", "tighten_tree"]


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
