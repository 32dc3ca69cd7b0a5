"""Log batches (`POST /logs`, or riding on a state proposal): checked whole before any line
is written."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from stratoflow.schemas import (
    MAX_LOG_BATCH,
    DecisionStatus,
    LogCreate,
    LogsWritten,
    OrchestrationResult,
)
from stratoflow_functions.errors import PayloadTooLargeError
from stratoflow_functions.store import Store


def write_logs(store: Store, lines: list[LogCreate], now: datetime) -> LogsWritten:
    """Store a batch of log lines of existing flow runs."""
    check_logs(store, lines)
    if not lines:
        return LogsWritten(count=0)
    return LogsWritten(count=store.logs.write(lines, now))


def check_logs(store: Store, lines: list[LogCreate], known: UUID | None = None) -> None:
    """Check a batch before anything is written: its size, and that its runs exist (`known`
    is a run the caller reads anyway).

    Raises:
        PayloadTooLargeError: more than `MAX_LOG_BATCH` lines.
        NotFoundError: a line names a flow run that does not exist.
    """
    if len(lines) > MAX_LOG_BATCH:
        raise PayloadTooLargeError(
            f"{len(lines)} log lines in one batch; the limit is {MAX_LOG_BATCH}",
            code="too_many_logs",
        )
    for flow_run_id in {line.flow_run_id for line in lines} - {known}:
        store.flow_runs.get(flow_run_id)


def write_with_proposal(
    store: Store, lines: list[LogCreate], result: OrchestrationResult, now: datetime
) -> None:
    """Write a proposal's lines (checked before it was decided) if it was accepted."""
    if lines and result.status is DecisionStatus.ACCEPT:
        store.logs.write(lines, now)
