"""A flow that fails on its first attempt and succeeds when retried.

With `retries=1` the first failure becomes AwaitingRetry and the retry completes. The marker file
(under `$FLAKY_MARKER_DIR`, default the current folder) remembers the first attempt, so the flow
also fails once when run by `stratoflow execute` and succeeds when the run is retried.
"""

from __future__ import annotations

import os
from pathlib import Path

from stratoflow import flow, task


@task
def check(marker: str) -> str:
    """Fail the first time this marker is seen."""
    path = Path(marker)
    if not path.exists():
        path.write_text("attempted")
        raise RuntimeError("first attempt fails on purpose")
    return "recovered"


@flow(name="flaky", retries=1, retry_delay_seconds=0)
def flaky(name: str = "demo") -> str:
    """Fails once, then succeeds."""
    folder = Path(os.environ.get("FLAKY_MARKER_DIR", "."))  # example config, not library logic
    return check(str(folder / f".flaky-{name}"))


if __name__ == "__main__":
    print(flaky())
