"""A deployment flow for the fault tests: its first attempt hangs inside a task until it is
killed; later attempts (the marker file exists by then) complete. Bundled and run by an agent."""

from __future__ import annotations

import time
from pathlib import Path

from stratoflow import flow, task


@task
def warm_up() -> str:
    """A task that finishes, so the first attempt has a COMPLETED task run too."""
    return "warm"


@task
def hang_first_time(marker: str) -> str:
    """On the first attempt: leave the marker and wait to be killed; afterwards: return."""
    path = Path(marker)
    if not path.exists():
        path.write_text("first attempt reached the task")
        time.sleep(600)
    return "done"


@flow(name="crash-once", retries=1, retry_delay_seconds=0)
def crash_once(marker: str) -> str:
    """Warm up, then the task that hangs on the first attempt only."""
    warm_up()
    return hang_first_time(marker)
