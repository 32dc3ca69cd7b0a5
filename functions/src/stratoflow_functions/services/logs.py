"""Log batches: checked whole before any line is written."""

from __future__ import annotations

from datetime import datetime

from stratoflow.schemas import MAX_LOG_BATCH, LogCreate, LogsWritten
from stratoflow_functions.errors import PayloadTooLargeError
from stratoflow_functions.store import Store


def write_logs(store: Store, lines: list[LogCreate], now: datetime) -> LogsWritten:
    """Store a batch of log lines of existing flow runs."""
    if len(lines) > MAX_LOG_BATCH:
        raise PayloadTooLargeError(
            f"{len(lines)} log lines in one batch; the limit is {MAX_LOG_BATCH}",
            code="too_many_logs",
        )
    if not lines:
        return LogsWritten(count=0)
    for flow_run_id in {line.flow_run_id for line in lines}:
        store.flow_runs.get(flow_run_id)
    return LogsWritten(count=store.logs.write(lines, now))
