"""Task-run records sent off the hot path: `POST /task-runs/batch` from a background thread.

A task that no server rule can hold back (no tags, no cache key, flow not cancelling) does not
wait for the API: the engine queues its record and states here and goes on. States of a task
that arrive before its record was sent ride in the same item, so a quick task costs one item
(create + Running + Completed) in one call shared with up to 499 others. A flow run whose items
are refused (the server answers ABORT for the tasks of a cancelling or finished flow run, WAIT
for one not running) has its watcher called once per batch: that is how the engine learns of a
cancel between heartbeats. A batch that fails in transit (5xx, no connection, no answer) is sent
again a few times: the server does not rewrite a finished task run, so replaying items it has
applied already leaves them as they are.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from uuid import UUID

from stratoflow.client.errors import (
    ConnectError,
    RequestTimeoutError,
    ServerError,
    ThrottledError,
)
from stratoflow.runtime.orchestrator import Orchestrator
from stratoflow.schemas import (
    DecisionStatus,
    State,
    TaskRunBatch,
    TaskRunBatchItem,
    TaskRunBatchResponse,
    TaskRunCreate,
)

MAX_ITEMS = 500
MAX_STATES = 16
RETRY_DELAYS = (0.5, 2.0, 5.0)
"""Seconds before each new try of a batch that failed in transit."""
_TRANSIENT = (ServerError, ConnectError, RequestTimeoutError, ThrottledError)


class TaskRunBatcher:
    """Queues task-run items and sends them in batches, in order.

    Args:
        orchestrator: the API.
        interval: the longest a record waits before it is sent (seconds).
        retry_delays: seconds before each new try of a batch that failed in transit.
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        interval: float = 0.5,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self._orchestrator = orchestrator
        self._interval = interval
        self._retry_delays = tuple(retry_delays)
        self._watchers: dict[UUID, Callable[[], None]] = {}
        self._items: list[TaskRunBatchItem] = []
        self._open: dict[UUID, TaskRunBatchItem] = {}
        """The unsent item of each task run, which later states of the run join."""
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stratoflow-batcher", daemon=True)
        self._thread.start()

    def watch(self, flow_run_id: UUID, on_refused: Callable[[], None]) -> None:
        """Call `on_refused()` (from the sending thread) when items of the run are refused."""
        with self._lock:
            self._watchers[flow_run_id] = on_refused

    def unwatch(self, flow_run_id: UUID) -> None:
        """Stop watching a flow run."""
        with self._lock:
            self._watchers.pop(flow_run_id, None)

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
        response = self._send_with_retries(TaskRunBatch(items=items))
        if response is not None:
            self._report_refusals(items, response)

    def _send_with_retries(self, batch: TaskRunBatch) -> TaskRunBatchResponse | None:
        for delay in (*self._retry_delays, None):
            try:
                return self._orchestrator.create_task_runs_batch(batch)
            except Exception as exc:  # records are best effort; the run goes on
                if delay is None or not isinstance(exc, _TRANSIENT):
                    count = len(batch.items)
                    print(f"stratoflow: could not record {count} task runs: {exc}", file=sys.stderr)
                    return None
            time.sleep(delay)
        return None

    def _report_refusals(
        self, items: list[TaskRunBatchItem], response: TaskRunBatchResponse
    ) -> None:
        flow_of = {item.task_run.id: item.task_run.flow_run_id for item in items}
        refused = {
            flow_of.get(result.task_run_id)
            for result in response.results
            if result.status in (DecisionStatus.ABORT, DecisionStatus.WAIT)
        }
        with self._lock:
            watchers = [self._watchers[run] for run in refused if run in self._watchers]
        for on_refused in watchers:
            on_refused()

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
