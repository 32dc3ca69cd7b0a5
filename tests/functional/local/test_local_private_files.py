"""Owner-only storage under the home, whatever the umask: the helpers every stack file goes
through, the write-ahead log, the profile with the admin key, and the start-up tightening of
data an older version left readable."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from stratoflow.client.profile import read_profile, write_profile
from stratoflow_functions.local.private_files import (
    open_private,
    private_dir,
    secure_home,
    tighten_tree,
)
from stratoflow_functions.local.wal import WalEntry, WriteAheadLog

UMASKS = [0o000, 0o022, 0o277]
"""World-writable by default, the usual one, and one that would strip the owner's write bit."""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(params=UMASKS, ids=lambda m: f"umask {m:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_new_folders_and_files_are_owner_only(tmp_path: Path, umask: int) -> None:
    data = private_dir(tmp_path / "home" / "deep" / "local")
    with open_private(data / "a.jsonl", "a") as log:
        log.write("one\n")
    with open_private(data / "a.jsonl", "a") as log:
        log.write("two\n")
    with open_private(data / "b.tmp", "w") as out:
        out.write("snapshot\n")
    for folder in (tmp_path / "home", tmp_path / "home" / "deep", data):
        assert mode(folder) == 0o700
    assert (mode(data / "a.jsonl"), mode(data / "b.tmp")) == (0o600, 0o600)
    assert (data / "a.jsonl").read_text() == "one\ntwo\n"


def test_the_log_and_the_profile_are_owner_only(tmp_path: Path, umask: int) -> None:
    log = WriteAheadLog(tmp_path / "wal-1.jsonl")
    log.append(WalEntry(environ={"REQUEST_METHOD": "PUT"}, body=b"x", service="s3"))
    log.close()
    profile = write_profile({"api_key": "sf_secret"}, tmp_path / "new-home" / "profile.toml")
    assert mode(tmp_path / "wal-1.jsonl") == 0o600
    assert (mode(profile), mode(profile.parent)) == (0o600, 0o700)
    assert read_profile(profile) == {"api_key": "sf_secret"}


def test_rewriting_replaces_the_file_so_an_old_descriptor_never_sees_new_contents(
    tmp_path: Path,
) -> None:
    path = tmp_path / "snapshot.tmp"
    path.write_text("old")
    path.chmod(0o644)
    with path.open() as held, open_private(path, "w") as out:
        out.write("new contents")
        out.flush()
        assert held.read() == "old"
    assert (path.read_text(), mode(path)) == ("new contents", 0o600)


def test_a_symlink_is_never_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    (tmp_path / "wal-2.jsonl").symlink_to(target)
    with pytest.raises(OSError, match=r"symbolic links|Too many levels"):
        open_private(tmp_path / "wal-2.jsonl", "a")
    assert target.read_text() == "keep"


def loose_home(tmp_path: Path) -> Path:
    """A home as an older version left it: 0755 folders, 0644 files, plus a link out."""
    home = tmp_path / "home"
    (home / "local" / "old").mkdir(parents=True)
    (home / "local" / "snapshot.jsonl").write_text("{}\n")
    (home / "local" / "old" / "wal-3.jsonl").write_text("")
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    (home / "local" / "link").symlink_to(outside)
    for path in (home, home / "local", home / "local" / "old"):
        path.chmod(0o755)
    for path in (home / "local" / "snapshot.jsonl", home / "local" / "old" / "wal-3.jsonl"):
        path.chmod(0o644)
    outside.chmod(0o644)
    return home


def test_start_up_tightens_what_an_older_version_left(tmp_path: Path) -> None:
    home = loose_home(tmp_path)
    assert secure_home(home, home / "local") == 3  # old/ and the two files (local/ went first)
    for path in (home, home / "local", home / "local" / "old"):
        assert mode(path) == 0o700
    assert mode(home / "local" / "snapshot.jsonl") == 0o600
    assert mode(home / "local" / "old" / "wal-3.jsonl") == 0o600
    assert mode(tmp_path / "outside.txt") == 0o644  # a link is not followed
    assert tighten_tree(home / "local") == 0


def test_a_shared_home_is_left_alone_but_the_data_in_it_is_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    with caplog.at_level(logging.WARNING):
        secure_home(shared, shared / "local")
    assert mode(shared) == 0o1777
    assert mode(shared / "local") == 0o700
    assert "shared folder" in caplog.text
