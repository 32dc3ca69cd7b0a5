"""A flow that runs slow tasks: used to show (and test) that SIGTERM mid-flow records CRASHED."""

from __future__ import annotations

import sys
import time

from stratoflow import flow, task


@task
def nap(i: int) -> int:
    """Sleep a little."""
    time.sleep(0.1)
    return i


@flow(name="sleepy")
def sleepy(steps: int = 600) -> int:
    """Nap `steps` times, announcing when it has started."""
    print("started", flush=True, file=sys.stderr)
    return sum(nap(i) for i in range(steps))


if __name__ == "__main__":
    sleepy()
