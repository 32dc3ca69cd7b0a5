"""Code bundles without an API: ignore rules, deterministic packing, safe unpacking, and
`materialize_code` refusing what it must."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from stratoflow.deploy import BundleError, IgnoreRules, pack_project, project_files, unpack_bundle
from stratoflow.runtime.loader import CodeLoadError, load_flow, materialize_code
from stratoflow.schemas import CodeBundle, CodeDownload


def _write(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"content of {name}")


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "ignored"),
    [
        ("*.log", "a/b/run.log", False, True),
        ("/build", "build", True, True),
        ("/build", "src/build", True, False),
        ("docs/*.md", "docs/a.md", False, True),
        ("docs/*.md", "docs/sub/a.md", False, False),
        ("**/tmp", "x/y/tmp", True, True),
        ("out/", "out", False, False),  # a trailing slash matches folders only
        ("data/**", "data/a/b.csv", False, True),
        ("a/**/z", "a/z", False, True),
        ("a/**/z", "a/b/c/z", False, True),
        ("file[0-9].txt", "file7.txt", False, True),
        ("file?.txt", "file10.txt", False, False),
    ],
)
def test_ignore_patterns_match_like_gitignore(
    pattern: str, path: str, is_dir: bool, ignored: bool
) -> None:
    assert IgnoreRules.from_lines([pattern]).ignored(path, is_dir) is ignored


def test_last_matching_rule_wins_and_comments_are_skipped() -> None:
    rules = IgnoreRules.from_lines(["# comment", "", "*.env", "!keep.env", r"\#literal"])
    assert rules.ignored("prod.env", False)
    assert not rules.ignored("keep.env", False)
    assert rules.ignored("#literal", False)
    assert not rules.ignored("comment", False)


def test_files_under_an_ignored_folder_cannot_be_reincluded(tmp_path: Path) -> None:
    _write(tmp_path, "logs/keep.txt", "main.py", ".git/config", "pkg/__pycache__/m.pyc")
    (tmp_path / ".stratoflowignore").write_text("logs/\n!logs/keep.txt\n")
    assert project_files(tmp_path) == [".stratoflowignore", "main.py"]


def test_the_same_content_packs_to_the_same_bytes(tmp_path: Path) -> None:
    _write(tmp_path, "b.py", "a/c.py")
    first = pack_project(tmp_path)
    os.utime(tmp_path / "b.py", (0, 0))
    assert pack_project(tmp_path).sha256 == first.sha256
    (tmp_path / "b.py").write_text("changed")
    assert pack_project(tmp_path).sha256 != first.sha256
    assert first.files == ("a/c.py", "b.py")


def test_unpack_checks_the_hash_and_refuses_path_traversal(tmp_path: Path) -> None:
    _write(tmp_path / "src", "flows/x.py")
    bundle = pack_project(tmp_path / "src")
    with pytest.raises(BundleError, match="sha256"):
        unpack_bundle(bundle.data, "0" * 64, tmp_path / "out")
    unpack_bundle(bundle.data, bundle.sha256, tmp_path / "out")
    assert (tmp_path / "out/flows/x.py").read_text() == "content of flows/x.py"
    evil = _zip({"../escaped.py": "x"})
    with pytest.raises(BundleError, match="outside"):
        unpack_bundle(evil, _sha(evil), tmp_path / "evil")
    assert not (tmp_path / "escaped.py").exists()


def _zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


class _NoBundles:
    def read_code_bundle(self, sha256: str) -> CodeDownload:
        return CodeDownload(uri=f"s3://b/{sha256}", download_url="http://127.0.0.1:9/nothing")


def test_s3_bundles_need_a_source_and_report_a_failed_download(tmp_path: Path) -> None:
    code = CodeBundle(uri="s3://bucket/bundles/x.zip", sha256="a" * 64)
    with pytest.raises(CodeLoadError, match="an API client is needed"):
        materialize_code(code, tmp_path, tmp_path / "scratch")
    with pytest.raises(CodeLoadError, match="download failed"):
        materialize_code(code, tmp_path, tmp_path / "scratch", _NoBundles())


def test_unsafe_local_bundles_are_refused_by_materialize_code(tmp_path: Path) -> None:
    evil = _zip({"/etc/owned.py": "x"})
    (tmp_path / "evil.zip").write_bytes(evil)
    code = CodeBundle(uri=(tmp_path / "evil.zip").as_uri(), sha256=_sha(evil))
    with pytest.raises(CodeLoadError, match="outside"):
        materialize_code(code, tmp_path, tmp_path / "scratch")


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "credentials"
    secret.parent.mkdir(parents=True)
    secret.write_text("aws_secret_access_key = TOP-SECRET")
    return secret


def test_links_to_files_outside_the_project_are_not_packed_and_are_named(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _write(root, "main.py")
    secret = _secret(tmp_path)
    (root / "creds").symlink_to(secret)  # absolute link
    (root / "sub").mkdir()
    (root / "sub" / "relative").symlink_to(Path("..") / ".." / "outside" / "credentials")
    (root / "chain").symlink_to(root / "sub" / "relative")  # inside, then out
    bundle = pack_project(root)
    assert bundle.files == ("main.py",)
    assert b"TOP-SECRET" not in zlib_inflated(bundle.data)
    skipped = {s.path: s.reason for s in bundle.skipped}
    assert set(skipped) == {"creds", "sub/relative", "chain"}
    assert skipped["creds"] == f"a link to {secret}, outside the project folder"
    assert all("outside the project folder" in reason for reason in skipped.values())


def test_links_to_files_inside_the_project_are_packed_as_copies(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _write(root, "flows/real.py", "shared/util.py")
    (root / "flows" / "alias.py").symlink_to(Path("real.py"))
    (root / "util.py").symlink_to(root / "shared" / "util.py")
    (root / "real.py").symlink_to(Path("flows") / "alias.py")  # a chain that stays inside
    bundle = pack_project(root)
    assert bundle.skipped == ()
    assert bundle.files == (
        "flows/alias.py",
        "flows/real.py",
        "real.py",
        "shared/util.py",
        "util.py",
    )
    unpack_bundle(bundle.data, bundle.sha256, tmp_path / "out")
    assert (tmp_path / "out/flows/alias.py").read_text() == "content of flows/real.py"
    assert (tmp_path / "out/real.py").read_text() == "content of flows/real.py"
    assert not (tmp_path / "out/flows/alias.py").is_symlink()


def test_folder_links_broken_links_loops_and_special_files_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _write(root, "main.py", "pkg/mod.py")
    (root / "pkg" / "up").symlink_to(Path(".."), target_is_directory=True)  # would loop
    (root / "etc").symlink_to(Path("/etc"), target_is_directory=True)
    (root / "gone").symlink_to(root / "missing.py")
    (root / "loop_a").symlink_to(root / "loop_b")
    (root / "loop_b").symlink_to(root / "loop_a")
    os.mkfifo(root / "pipe")  # reading it would block forever
    bundle = pack_project(root)
    assert bundle.files == ("main.py", "pkg/mod.py")
    reasons = {s.path: s.reason for s in bundle.skipped}
    assert reasons == {
        "etc": "a link to a folder (/etc), not followed",
        "gone": f"a broken link (to {root / 'missing.py'})",
        "loop_a": f"a broken link (to {root / 'loop_b'})",
        "loop_b": f"a broken link (to {root / 'loop_a'})",
        "pipe": "not a regular file",
        "pkg/up": "a link to a folder (..), not followed",
    }


def test_links_to_ignored_files_stay_out_and_ignored_links_are_not_reported(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    _write(root, "main.py", "prod.env", "data/big.csv", ".git/config")
    (root / ".stratoflowignore").write_text("*.env\n/data/\nlocal-*\n")
    (root / "settings.py").symlink_to(root / "prod.env")
    (root / "big.txt").symlink_to(root / "data" / "big.csv")
    (root / "git.txt").symlink_to(root / ".git" / "config")
    (root / "local-secret").symlink_to(_secret(tmp_path))  # ignored: not even looked at
    bundle = pack_project(root)
    assert bundle.files == (".stratoflowignore", "main.py")
    assert {s.path for s in bundle.skipped} == {"settings.py", "big.txt", "git.txt"}
    assert all("which .stratoflowignore leaves out" in s.reason for s in bundle.skipped)


def zlib_inflated(data: bytes) -> bytes:
    """Every entry of a zip, decompressed and concatenated."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


@pytest.mark.parametrize(
    ("entrypoint", "reason"),
    [
        ("../outside/evil.py:evil", "contains '..'"),
        ("{outside}/evil.py:evil", "is absolute"),
        ("code\\..\\..\\outside\\evil.py:evil", "backslash"),
    ],
)
def test_the_loader_refuses_an_entrypoint_outside_the_code_without_importing_it(
    tmp_path: Path, entrypoint: str, reason: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = tmp_path / "imported"
    (outside / "evil.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('x')\n"
        "from stratoflow import flow\n\n@flow\ndef evil() -> None:\n    pass\n"
    )
    (tmp_path / "code").mkdir()
    with pytest.raises(CodeLoadError, match=reason):
        load_flow(entrypoint.format(outside=outside), tmp_path / "code")
    assert not marker.exists()
