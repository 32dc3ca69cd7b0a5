"""Decorated flows and tasks keep their signatures for type checkers (mypy in a subprocess)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SAMPLE = textwrap.dedent(
    """
    from stratoflow import StratoflowFuture, flow, task

    @task
    def bare(x: int, y: str = "a") -> float:
        return float(x)

    @task(retries=2, retry_delay_seconds=[1, 2], tags=["db"])
    def configured(name: str) -> list[str]:
        return [name]

    @flow(name="typed-flow", task_concurrency=2)
    def typed_flow(day: str, limit: int = 3) -> int:
        value: float = bare(1, y="b")
        future: StratoflowFuture[list[str]] = configured.submit("x")
        names: list[str] = future.result()
        return limit

    reveal_type(bare)
    reveal_type(typed_flow(day="d"))
    bare("not an int")            # E1: wrong argument type
    configured(name=3)            # E2: wrong keyword type
    typed_flow()                  # E3: missing argument
    wrong: str = typed_flow("d")  # E4: wrong return type
    """
)


@pytest.mark.slow
def test_decorated_functions_keep_their_signatures(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file=",
         str(sample)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    out = result.stdout
    assert 'Revealed type is "stratoflow.tasks.Task[[x: int, y: str =], float]"' in out
    assert 'Revealed type is "int"' in out or 'Revealed type is "builtins.int"' in out
    errors = [line for line in out.splitlines() if ": error:" in line]
    lines = sorted({int(re.split(r":", line)[1]) for line in errors})
    source = SAMPLE.splitlines()
    flagged = sorted(source[n - 1].split("# ")[-1].split(":")[0] for n in lines)
    assert flagged == ["E1", "E2", "E3", "E4"], out
