"""Task-run records sent off the hot path: `POST /task-runs/batch` from a background thread.

A task that no server rule can hold back (no tags, no cache key, flow not cancelling) does not
wait for the API: the engine queues its record and states here and goes on. States of a task
that arrive before its record was sent ride in the same item, so a quick task costs one item
(create + Running + Completed) in one call shared with up to 99 others. Answers that are not
ACCEPT are handed to `on_result` (that is how the engine learns its flow is being cancelled).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from uuid import UUID

from stratoflow.runtime.orchestrator import Orchestrator
from stratoflow.schemas import (
    State,
    TaskRunBatch,
    TaskRunBatchItem,
    TaskRunBatchResult,
    TaskRunCreate,
)

MAX_ITEMS = 100
MAX_STATES = 16


class TaskRunBatcher:
    """Queues task-run items and sends them in batches, in order.

    Args:
        orchestrator: the API.
        on_result: called with each result that is not ACCEPT.
        interval: the longest a record waits before it is sent (seconds).
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        on_result: Callable[[TaskRunBatchResult], None],
        interval: float = 0.5,
    ) -> None:
        self._orchestrator = orchestrator
        self._on_result = on_result
        self._interval = interval
        self._items: list[TaskRunBatchItem] = []
        self._open: dict[UUID, TaskRunBatchItem] = {}
        """The unsent item of each task run, which later states of the run join."""
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stratoflow-batcher", daemon=True)
        self._thread.start()

    def record(self, create: TaskRunCreate, state: State) -> None:
        """Queue `state` for the task run `create` describes (created first if new)."""
        assert create.id is not None, "batched task runs need a client-chosen id"
        with self._lock:
            item = self._open.get(create.id)
            if item is None or len(item.states) >= MAX_STATES:
                item = TaskRunBatchItem(task_run=create, states=[])
                self._open[create.id] = item
                self._items.append(item)
            item.states.append(state)
            if len(self._items) >= MAX_ITEMS:
                self._wake.set()

    def flush(self) -> None:
        """Send everything queued so far."""
        with self._send_lock:
            while True:
                with self._lock:
                    items, self._items = self._items[:MAX_ITEMS], self._items[MAX_ITEMS:]
                    for item in items:
                        if self._open.get(item.task_run.id) is item:  # type: ignore[arg-type]
                            del self._open[item.task_run.id]  # type: ignore[arg-type]
                if not items:
                    return
                self._send(items)

    def _send(self, items: list[TaskRunBatchItem]) -> None:
        try:
            response = self._orchestrator.create_task_runs_batch(TaskRunBatch(items=items))
        except Exception as exc:  # records are best effort; the run goes on
            print(f"stratoflow: could not record {len(items)} task runs: {exc}", file=sys.stderr)
            return
        for result in response.results:
            if result.status != "ACCEPT":
                self._on_result(result)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        """Send what is left and stop the background thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()
