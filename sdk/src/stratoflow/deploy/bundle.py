"""Code bundles: a project folder packed into a deterministic zip, and unpacked safely.

The same files give the same bytes (sorted entries, fixed timestamps and permissions), so the
bundle's sha256 names its content and an unchanged project is never uploaded twice. Unpacking
refuses any entry that would land outside the target folder.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from stratoflow.deploy.ignore import IgnoreRules
from stratoflow.exceptions import StratoflowError

FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
"""The zip format's earliest date: a file's mtime must not change the bundle's hash."""
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
"""The API accepts bundles up to this size (`CodeUploadRequest.size`)."""


class BundleError(StratoflowError):
    """A bundle could not be built or is unsafe or corrupt."""


@dataclass(frozen=True)
class PackedBundle:
    """A packed project: the zip's bytes, their sha256, and the files inside."""

    data: bytes
    sha256: str
    files: tuple[str, ...]


def project_files(root: Path, rules: IgnoreRules | None = None) -> list[str]:
    """The posix paths (relative to `root`, sorted) that go into the bundle."""
    rules = rules if rules is not None else IgnoreRules.for_project(root)
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        # Pruning here is what keeps an ignored folder's files out, as git does.
        dirs[:] = [d for d in dirs if not rules.ignored(prefix + d, is_dir=True)]
        found.extend(prefix + f for f in files if not rules.ignored(prefix + f, is_dir=False))
    return sorted(found)


def pack_project(root: Path, rules: IgnoreRules | None = None) -> PackedBundle:
    """Pack the project at `root` into a deterministic zip.

    Raises:
        BundleError: the bundle would be larger than the API accepts.
    """
    files = project_files(root, rules)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in files:
            archive.writestr(_entry(root / name, name), (root / name).read_bytes())
    data = buffer.getvalue()
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(
            f"the code bundle is {len(data)} bytes, over {MAX_BUNDLE_BYTES}: "
            "leave large files out with .stratoflowignore"
        )
    return PackedBundle(data=data, sha256=hashlib.sha256(data).hexdigest(), files=tuple(files))


def _entry(path: Path, name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so the permission bits below are honoured
    executable = path.stat().st_mode & stat.S_IXUSR
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    return info


def unpack_bundle(data: bytes, expected_sha256: str, target: Path) -> None:
    """Check a bundle's hash and unpack it into `target`.

    Raises:
        BundleError: the hash differs, the data is not a zip, or an entry would escape `target`.
    """
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise BundleError(f"sha256 {digest} != expected {expected_sha256}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_entries(archive, target)
            archive.extractall(target)
    except zipfile.BadZipFile as exc:
        raise BundleError("not a zip file") from exc


def _check_entries(archive: zipfile.ZipFile, target: Path) -> None:
    root = target.resolve()
    for name in archive.namelist():
        destination = (root / name).resolve()
        if name.startswith(("/", "\\")) or not destination.is_relative_to(root):
            raise BundleError(f"entry {name!r} would be written outside {target}")
