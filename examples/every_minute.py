"""A small flow deployed on a one-minute schedule by the demo: it checks in and says when."""

from __future__ import annotations

from datetime import UTC, datetime

from stratoflow import flow, get_run_logger, task


@task
def check_in(source: str) -> str:
    """Pretend to poll a source; return what was seen."""
    return f"{source} is healthy at {datetime.now(UTC):%H:%M:%S} UTC"


@flow(name="every-minute")
def every_minute(source: str = "warehouse") -> str:
    """Check in once and log the answer."""
    line = check_in(source)
    get_run_logger().info(line)
    return line


if __name__ == "__main__":
    every_minute()
