"""The dashboard's pure TypeScript functions (schedule in words, parameter parsing, console
links): `node ui/test.mjs` asserts them and exits non-zero on the first failure."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_ui_pure_functions_hold() -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules/esbuild").is_dir():
        pytest.skip("needs node and the npm devDependencies (`make sync`)")
    done = subprocess.run(
        [node, "ui/test.mjs"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ui pure functions: ok" in done.stdout
