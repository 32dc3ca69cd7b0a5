"""A plug-in command whose extra is not installed says which extra to install, never a traceback.

A throw-away distribution (`stratoflow-fake`, an entry point `fake` in the `stratoflow.cli`
group, an extra `magic` requiring a package that does not exist) is put on a subprocess's
path; the real `stratoflow` CLI then loads it as it loads `stratoflow server`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

METADATA = """\
Metadata-Version: 2.1
Name: stratoflow-fake
Version: 0.1.0
Requires-Dist: click>=8
Requires-Dist: no_such_package_xyz>=1; extra == 'magic'
Requires-Dist: other-missing-abc; extra == "magic"
Provides-Extra: magic
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding the fake distribution, for PYTHONPATH."""
    info = tmp_path / "stratoflow_fake-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(METADATA)
    (info / "entry_points.txt").write_text("[stratoflow.cli]\nfake = stratoflow_fake:fake\n")
    (tmp_path / "stratoflow_fake.py").write_text(
        "import click\nimport no_such_package_xyz\n\n@click.command()\ndef fake(): ...\n"
    )
    return tmp_path


def _stratoflow(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = "import sys; from stratoflow.cli import main; sys.argv[0] = 'stratoflow'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_running_the_command_names_the_missing_package_and_its_extra(site: Path) -> None:
    result = _stratoflow(site, "fake", "start", "--port", "1")

    assert result.returncode == 1
    assert "'no_such_package_xyz'" in result.stderr
    assert "pip install 'stratoflow-fake[magic]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_still_lists_every_command_and_marks_the_unavailable_one(site: Path) -> None:
    result = _stratoflow(site, "--help")

    assert result.returncode == 0, result.stderr
    assert "deploy" in result.stdout
    assert "fake" in result.stdout
    assert "(unavailable" in result.stdout


def test_the_extras_contents_and_what_is_missing_come_from_the_metadata(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stratoflow.cli.extras import extra_providing, extra_requirements, missing_requirements

    monkeypatch.syspath_prepend(str(site))
    names = ["no_such_package_xyz", "other-missing-abc"]

    assert extra_requirements("stratoflow-fake", "magic") == names
    assert missing_requirements("stratoflow-fake", "magic") == names
    assert extra_requirements("stratoflow-fake", "other") == []
    assert extra_providing("stratoflow-fake", "no_such_package_xyz.sub") == "magic"
    assert extra_providing("stratoflow-fake", "click") is None
    assert missing_requirements("stratoflow-functions", "local") == []  # this workspace has it
