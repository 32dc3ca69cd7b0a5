"""Without the `[aws]` extra, a command that must sign with SigV4 says which extra to install
and exits 2: one line, no traceback. Each command runs as a real process in which botocore
cannot be imported (`sys.modules["botocore"] = None`, as on a machine without the extra)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

IAM_API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com"
RUN_WITHOUT_BOTOCORE = (
    "import sys\n"
    "sys.modules['botocore'] = None  # what `import botocore` meets without the extra\n"
    "from stratoflow.cli import main\n"
    "sys.argv = ['stratoflow', *sys.argv[1:]]\n"
    "main()\n"
)
FLOW = "from stratoflow import flow\n\n\n@flow\ndef nightly() -> None:\n    pass\n"


def _stratoflow(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("STRATOFLOW_") and key != "AWS_REGION"
    }
    env.update({"STRATOFLOW_HOME": str(tmp_path / "home"), "STRATOFLOW_API_URL": IAM_API})
    return subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_BOTOCORE, *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_botocore_really_cannot_be_imported_in_these_processes(tmp_path: Path) -> None:
    blocked = subprocess.run(
        [sys.executable, "-c", "import sys\nsys.modules['botocore'] = None\nimport botocore"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert blocked.returncode == 1
    assert "ModuleNotFoundError" in blocked.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["api-keys", "create", "laptop"],
        ["api-keys", "ls"],
        ["deployments", "ls"],
        ["runs", "ls"],
        ["run", "nightly/prod"],
        ["deploy", "flows.py:nightly", "--name", "prod"],
        ["execute", "00000000-0000-0000-0000-000000000001"],
    ],
)
def test_a_sigv4_command_without_the_aws_extra_names_the_extra_and_exits_2(
    tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "flows.py").write_text(FLOW)
    done = _stratoflow(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "Error: SigV4 signing needs botocore, which the [aws] extra installs: "
        "pip install 'stratoflow[aws]'"
    ]
    assert done.stdout == ""
