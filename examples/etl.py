"""An ETL flow: an extract with retries, mapped transforms, a load, and a reporting subflow.

Run it with `python examples/etl.py` (offline) or with `STRATOFLOW_API_URL` set to record it.
"""

from __future__ import annotations

from stratoflow import flow, get_run_logger, task

_attempts: dict[str, int] = {}


@task(retries=2, retry_delay_seconds=[0.01, 0.05])
def extract(day: str) -> list[dict[str, int]]:
    """Pretend the source is flaky: the first call fails, the retry succeeds."""
    _attempts[day] = _attempts.get(day, 0) + 1
    if _attempts[day] == 1:
        raise ConnectionError("source not ready")
    return [{"id": i, "value": i * 10} for i in range(10)]


@task
def transform(row: dict[str, int]) -> dict[str, int]:
    """Double each value."""
    return {**row, "value": row["value"] * 2}


@task
def load(rows: list[dict[str, int]]) -> int:
    """Sum what would be written."""
    return sum(row["value"] for row in rows)


@flow
def report(day: str, total: int) -> str:
    """A subflow: build the day's report line."""
    line = f"{day}: {total}"
    get_run_logger().info(line)
    return line


@flow(name="nightly-etl", log_prints=True, task_concurrency=4)
def nightly_etl(day: str = "2024-06-01") -> int:
    """Extract, transform in parallel, load, and report."""
    rows = extract(day)
    futures = transform.map(rows)
    total = load.submit([f.result() for f in futures])
    print(report(day, total.result()))
    return total.result()


if __name__ == "__main__":
    print(nightly_etl())
