"""`stratoflow execute` starts a run an agent claimed ahead on time: a PENDING run waits for its
expected start (bounded), a run already due or not PENDING does not wait; and the launch path
does not import what only some runs need."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from stratoflow.cli.execute import MAX_START_WAIT_SECONDS, wait_for_expected_start
from stratoflow.schemas import FlowRun, State, StateType

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _run(state: StateType, expected: datetime | None) -> FlowRun:
    return FlowRun(
        id=uuid4(), flow_id=uuid4(), name="r", state=State(type=state, timestamp=NOW),
        expected_start_time=expected, created=NOW, updated=NOW,
    )  # fmt: skip


def _waited(run: FlowRun) -> list[float]:
    slept: list[float] = []
    wait_for_expected_start(run, now=lambda: NOW, sleep=slept.append)
    return slept


def test_a_pending_run_claimed_ahead_waits_until_its_expected_start() -> None:
    assert _waited(_run(StateType.PENDING, NOW + timedelta(seconds=7.5))) == [7.5]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (StateType.PENDING, NOW - timedelta(seconds=1)),  # claimed late: start at once
        (StateType.PENDING, None),
        (StateType.RUNNING, NOW + timedelta(seconds=5)),  # not ours to hold back
    ],
)
def test_a_run_already_due_or_not_pending_does_not_wait(
    state: StateType, expected: datetime | None
) -> None:
    assert _waited(_run(state, expected)) == []


def test_the_wait_is_bounded() -> None:
    assert _waited(_run(StateType.PENDING, NOW + timedelta(hours=1))) == [MAX_START_WAIT_SECONDS]


def test_the_launch_path_imports_no_infrastructure_settings_nor_scans_plugin_commands() -> None:
    code = (
        "import sys, importlib.metadata as m\n"
        "scan = m.entry_points\n"
        "def guard(**k):\n"
        "    if k.get('group') == 'stratoflow.cli':\n"
        "        sys.exit('stratoflow.cli entry points scanned')\n"
        "    return scan(**k)\n"
        "m.entry_points = guard\n"
        "from stratoflow.cli import cli\n"
        "cli.get_command(None, 'execute')\n"
        "print(sorted(n for n in sys.modules if n.startswith('stratoflow.infrastructure')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
