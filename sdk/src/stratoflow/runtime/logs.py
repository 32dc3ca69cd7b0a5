"""Run logs: `get_run_logger()`, `log_prints`, and a shipper that sends lines in batches.

Every record logged through a run logger carries its flow-run (and task-run) id. A handler on
the `stratoflow.runs` logger hands those records to the run's `LogShipper`, which queues them and
sends them in order from a background thread (at most `MAX_LOG_BATCH` per call, about once per
`interval` seconds) and drains everything on `close()`. Console output is a plain stream handler
on the same logger.
"""

from __future__ import annotations

import builtins
import io
import logging
import sys
import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from stratoflow.exceptions import MissingContextError
from stratoflow.runtime.context import current_flow_run, current_task_run, log_prints_enabled
from stratoflow.runtime.orchestrator import Orchestrator
from stratoflow.schemas import MAX_LOG_BATCH, LogCreate

RUN_LOGGER = "stratoflow.runs"
SHIPPED = "stratoflow_shipped"
"""A record attribute: the line was sent already (console only)."""
_shippers: dict[UUID, LogShipper] = {}
_registry_lock = threading.Lock()
_setup_lock = threading.Lock()
_original_print = builtins.print


class LogShipper:
    """Queues a flow run's log lines and sends them in batches, in order.

    Args:
        orchestrator: where lines are written.
        interval: seconds between background flushes.
    """

    def __init__(self, orchestrator: Orchestrator, interval: float = 1.0) -> None:
        self._orchestrator = orchestrator
        self._interval = interval
        self._queue: deque[LogCreate] = deque()
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stratoflow-logs", daemon=True)
        self._thread.start()

    def put(self, line: LogCreate) -> None:
        """Queue one line (cheap; never blocks on the network)."""
        self._queue.append(line)

    def flush(self) -> None:
        """Send everything queued so far, in order."""
        # One sender at a time keeps batches, and so lines, in the order they were queued.
        with self._send_lock:
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(MAX_LOG_BATCH, len(self._queue)))]
                self._send(batch)

    def drain(self, room: int) -> list[LogCreate]:
        """Take the last `room` queued lines (sending any before them now), for the caller to
        send another way (the final state proposal); `requeue` gives back what it could not."""
        with self._send_lock:
            while len(self._queue) > room:
                count = min(MAX_LOG_BATCH, len(self._queue) - room)
                self._send([self._queue.popleft() for _ in range(count)])
            lines = list(self._queue)
            self._queue.clear()
            return lines

    def requeue(self, lines: list[LogCreate]) -> None:
        """Put drained lines back at the front of the queue, in order."""
        with self._send_lock:
            self._queue.extendleft(reversed(lines))

    def _send(self, batch: list[LogCreate]) -> None:
        try:
            self._orchestrator.write_logs(batch)
        except Exception as exc:  # losing logs must never fail the run
            _original_print(
                f"stratoflow: could not ship {len(batch)} log lines: {exc}", file=sys.stderr
            )

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def close(self) -> None:
        """Stop the background thread and send what is left."""
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)
        self.flush()


def register_shipper(flow_run_id: UUID, shipper: LogShipper) -> None:
    """Route the run's log records to `shipper`."""
    with _registry_lock:
        _shippers[flow_run_id] = shipper


def unregister_shipper(flow_run_id: UUID) -> None:
    """Stop routing the run's log records."""
    with _registry_lock:
        _shippers.pop(flow_run_id, None)


class RunLogHandler(logging.Handler):
    """Hands records that carry a `flow_run_id` to that run's shipper."""

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record as a `LogCreate` line."""
        flow_run_id = getattr(record, "flow_run_id", None)
        if getattr(record, SHIPPED, False):  # recorded already (with the final state)
            return
        shipper = _shippers.get(flow_run_id) if flow_run_id else None
        if shipper is None:
            return
        try:
            shipper.put(_as_line(record, flow_run_id))  # type: ignore[arg-type]
        except Exception:
            self.handleError(record)


def _as_line(record: logging.LogRecord, flow_run_id: UUID) -> LogCreate:
    return LogCreate(
        flow_run_id=flow_run_id,
        task_run_id=getattr(record, "task_run_id", None),
        level=record.levelno,
        name=record.name[:256],
        message=record.getMessage(),
        timestamp=datetime.fromtimestamp(record.created, UTC),
    )


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.run_name = getattr(record, "run_name", "")
        return super().format(record)


def setup_run_logging(console: bool = True) -> None:
    """Install the run handler (and a console handler) on the run logger, once per process."""
    with _setup_lock:
        logger = logging.getLogger(RUN_LOGGER)
        if any(isinstance(h, RunLogHandler) for h in logger.handlers):
            return
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.addHandler(RunLogHandler())
        if console:
            stream = logging.StreamHandler(sys.stderr)
            fmt = "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(run_name)s - %(message)s"
            stream.setFormatter(_ConsoleFormatter(fmt, datefmt="%H:%M:%S"))
            logger.addHandler(stream)
        builtins.print = _print_to_log


def get_run_logger() -> logging.LoggerAdapter[logging.Logger]:
    """The logger of the flow or task run this code runs in.

    Lines logged through it are shown on the console and recorded with the run.

    Raises:
        MissingContextError: called outside a flow run.
    """
    task_ctx = current_task_run()
    flow_ctx = task_ctx.flow_run if task_ctx else current_flow_run()
    if flow_ctx is None:
        raise MissingContextError("get_run_logger() was called outside a flow or task run")
    if task_ctx is not None:
        extra: dict[str, Any] = {
            "flow_run_id": flow_ctx.flow_run_id,
            "task_run_id": task_ctx.task_run_id,
            "run_name": f"task run {task_ctx.task_run_name!r}",
        }
        return logging.LoggerAdapter(logging.getLogger(f"{RUN_LOGGER}.task"), extra)
    extra = {
        "flow_run_id": flow_ctx.flow_run_id,
        "run_name": f"flow run {flow_ctx.flow_run_name!r}",
    }
    return logging.LoggerAdapter(logging.getLogger(f"{RUN_LOGGER}.flow"), extra)


def _print_to_log(*values: object, **kwargs: Any) -> None:
    """`print`, except inside runs with `log_prints`: then a line of the run's log."""
    target = kwargs.get("file")
    if not log_prints_enabled.get() or target not in (None, sys.stdout):
        _original_print(*values, **kwargs)
        return
    buffer = io.StringIO()
    _original_print(*values, **{**kwargs, "file": buffer, "end": ""})
    get_run_logger().info(buffer.getvalue())
