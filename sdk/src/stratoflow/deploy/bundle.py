"""Code bundles: a project folder packed into a deterministic zip, and unpacked safely.

The same files give the same bytes (sorted entries, fixed timestamps and permissions), so the
bundle's sha256 names its content and an unchanged project is never uploaded twice. Only what
lies inside the project folder is packed: a symbolic link to a file elsewhere (a secret, say),
a link to a folder, a broken link and anything that is not a regular file are left out and
reported (`PackedBundle.skipped`); a link to a file inside the folder is packed as a copy of
that file. Unpacking refuses any entry that would land outside the target folder.
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
class SkippedPath:
    """A path of the project that was not packed, and why."""

    path: str
    """Posix, relative to the project root."""
    reason: str


@dataclass(frozen=True)
class ProjectScan:
    """What a project's bundle holds: each entry's name and the file it is read from."""

    sources: tuple[tuple[str, Path], ...]
    skipped: tuple[SkippedPath, ...] = ()

    @property
    def files(self) -> tuple[str, ...]:
        """The entry names, sorted."""
        return tuple(name for name, _ in self.sources)


@dataclass(frozen=True)
class PackedBundle:
    """A packed project: the zip's bytes, their sha256, the files inside and what was left out."""

    data: bytes
    sha256: str
    files: tuple[str, ...]
    skipped: tuple[SkippedPath, ...] = ()


def scan_project(root: Path, rules: IgnoreRules | None = None) -> ProjectScan:
    """Walk the project at `root`: the files that go into its bundle, and the paths left out.

    Symbolic links are never followed into folders; a link to a regular file inside `root`
    (one that `.stratoflowignore` does not leave out) is packed as that file's content.
    """
    rules = rules if rules is not None else IgnoreRules.for_project(root)
    real_root = root.resolve()
    sources: list[tuple[str, Path]] = []
    skipped: list[SkippedPath] = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        # Pruning here is what keeps an ignored folder's files out, as git does.
        dirs[:] = [d for d in dirs if not rules.ignored(prefix + d, is_dir=True)]
        # os.walk does not enter linked folders; following one could loop or reach outside.
        linked = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        skipped.extend(SkippedPath(prefix + d, _folder_link(Path(folder) / d)) for d in linked)
        for name in (prefix + f for f in files if not rules.ignored(prefix + f, is_dir=False)):
            source, reason = _file_source(root / name, real_root, rules)
            if source is None:
                skipped.append(SkippedPath(name, reason))
            else:
                sources.append((name, source))
    return ProjectScan(tuple(sorted(sources)), tuple(sorted(skipped, key=lambda s: s.path)))


def project_files(root: Path, rules: IgnoreRules | None = None) -> list[str]:
    """The posix paths (relative to `root`, sorted) that go into the bundle."""
    return list(scan_project(root, rules).files)


def _folder_link(path: Path) -> str:
    return f"a link to a folder ({_target(path)}), not followed"


def _target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _file_source(path: Path, real_root: Path, rules: IgnoreRules) -> tuple[Path | None, str]:
    """The file to read for `path`, or None and why it is left out."""
    if not path.is_symlink():
        regular = stat.S_ISREG(path.lstat().st_mode)
        return (path, "") if regular else (None, "not a regular file")
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a loop of links (Python 3.11, 3.12)
        return None, f"a broken link (to {_target(path)})"
    if not target.is_relative_to(real_root):
        return None, f"a link to {_target(path)}, outside the project folder"
    if not target.is_file():
        return None, f"a link to {_target(path)}, which is not a regular file"
    if _left_out(target.relative_to(real_root).as_posix(), rules):
        return None, f"a link to {_target(path)}, which .stratoflowignore leaves out"
    return target, ""


def _left_out(relative: str, rules: IgnoreRules) -> bool:
    """Whether the walk would leave this file out (itself, or a folder on its way, ignored)."""
    parts = relative.split("/")
    folders = ("/".join(parts[: i + 1]) for i in range(len(parts) - 1))
    return any(rules.ignored(f, is_dir=True) for f in folders) or rules.ignored(relative, False)


def pack_project(root: Path, rules: IgnoreRules | None = None) -> PackedBundle:
    """Pack the project at `root` into a deterministic zip.

    Raises:
        BundleError: a file cannot be read, or the bundle would be larger than the API accepts.
    """
    scan = scan_project(root, rules)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in scan.sources:
            archive.writestr(_entry(source, name), _read(source, name))
    data = buffer.getvalue()
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(
            f"the code bundle is {len(data)} bytes, over {MAX_BUNDLE_BYTES}: "
            "leave large files out with .stratoflowignore"
        )
    digest = hashlib.sha256(data).hexdigest()
    return PackedBundle(data=data, sha256=digest, files=scan.files, skipped=scan.skipped)


def _read(source: Path, name: str) -> bytes:
    try:
        return source.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {name}: {exc.strerror or exc}") from exc


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
