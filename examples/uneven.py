"""A flow of tasks that take different times (the dashboard's timeline shows them as bars of
different widths), one that can hold a concurrency slot, and an optional failure at the end."""

from __future__ import annotations

import time

from stratoflow import flow, get_run_logger, task


@task
def slow() -> float:
    """The longest task."""
    time.sleep(0.9)
    return 0.9


@task
def quick() -> float:
    """The shortest task."""
    time.sleep(0.05)
    return 0.05


@task
def medium() -> float:
    """In between."""
    time.sleep(0.4)
    return 0.4


@task(tags=["ui-slot"])
def hold(seconds: float) -> float:
    """Hold a slot of the `ui-slot` concurrency limit (when one is set) for `seconds`."""
    time.sleep(seconds)
    return seconds


@flow(name="uneven")
def uneven(label: str = "demo", hold_seconds: float = 0.0, fail: bool = False) -> float:
    """Run the three tasks (not in the order of their durations), then hold, then fail if asked."""
    total = slow() + quick() + medium()
    if hold_seconds:
        total += hold(hold_seconds)
    get_run_logger().info("uneven %s took %.2f s of tasks", label, total)
    if fail:
        raise RuntimeError(f"uneven {label} fails on purpose")
    return total


if __name__ == "__main__":
    print(uneven())
