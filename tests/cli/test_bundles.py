"""Code bundles without an API: ignore rules, deterministic packing, safe unpacking, and
`materialize_code` refusing what it must."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from stratoflow.deploy import BundleError, IgnoreRules, pack_project, project_files, unpack_bundle
from stratoflow.runtime.loader import CodeLoadError, materialize_code
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
