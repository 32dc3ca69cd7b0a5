"""Installing a Debian package a test needs (Docker's daemon, Chromium), as root only.

The tests that need a real daemon or browser install it themselves on a bare machine, so
`make test` needs nothing more than the quickstart's tools; as another user they are skipped
with the reason. Installs are serialised across pytest-xdist workers by a file lock, and apt
waits for dpkg's own lock rather than failing on it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

SYSTEM_BINARIES = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""Where Debian puts binaries: a user's PATH may leave out the sbin folders."""
APT_LOCK = Path("/tmp/sf-apt.lock")
WAIT_FOR_DPKG = ["-o", "DPkg::Lock::Timeout=600"]


def find_binary(*names: str) -> str | None:
    """The first of `names` on PATH or in the system folders."""
    for name in names:
        found = shutil.which(name) or shutil.which(name, path=SYSTEM_BINARIES)
        if found:
            return found
    return None


def install(package: str, *binaries: str) -> str | None:
    """Install `package` unless one of `binaries` is there already; why not, if it could not."""
    if find_binary(*binaries):
        return None
    if os.geteuid() != 0:
        return f"{package} is not installed and we are not root to install it"
    with APT_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if find_binary(*binaries):  # another worker installed it meanwhile
                return None
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", *WAIT_FOR_DPKG, "update", "-qq"],
                           check=True, capture_output=True, timeout=300, env=env)  # fmt: skip
            subprocess.run(["apt-get", *WAIT_FOR_DPKG, "install", "-y", "-qq", package],
                           check=True, capture_output=True, timeout=900, env=env)  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            return f"installing {package} failed: {exc}"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return None if find_binary(*binaries) else f"{package} installed none of {binaries}"
