"""The run contexts: what a running flow or task knows about itself, held in context variables.

`FlowRunContext` is set while a flow body runs (and copied into the threads that run its tasks);
`TaskRunContext` while a task body runs. `get_run_logger()` and the engines read them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from stratoflow.runtime.heartbeat import HEARTBEAT_SECONDS
from stratoflow.runtime.orchestrator import Orchestrator
from stratoflow.runtime.results import ResultStore

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from stratoflow.flows import Flow
    from stratoflow.futures import StratoflowFuture
    from stratoflow.runtime.batcher import TaskRunBatcher
    from stratoflow.runtime.logs import LogShipper
    from stratoflow.tasks import Task


@dataclass
class FlowRunContext:
    """A running flow run.

    Attributes:
        flow: the flow being run.
        flow_run_id: its id.
        flow_run_name: its name.
        orchestrator: the API (or the in-memory stand-in).
        results: where results are persisted.
        batcher: sends task-run records off the hot path.
        logs: ships log lines in batches.
        executor: the thread pool running submitted tasks (bounded by `task_concurrency`).
        cancel_event: set once this attempt must stop starting tasks (the run is being
            cancelled, or the attempt timed out). Each attempt of the run gets its own.
        parameters: the validated parameters.
        hold: set while the engine checks whether the run is being cancelled (a batched record
            was refused); tasks then propose each state and obey the answer.
        on_cancel: what `cancel()` also calls: the engine stops the run's current attempt.
        infrastructure_id: what the run's heartbeats say runs it (None: they say nothing), so
            its subflows, run by the same process, say the same.
        heartbeat_seconds: how often the run beats (its subflows beat as often).
    """

    flow: Flow[..., Any]
    flow_run_id: UUID
    flow_run_name: str
    orchestrator: Orchestrator
    results: ResultStore
    batcher: TaskRunBatcher
    logs: LogShipper
    executor: ThreadPoolExecutor
    parameters: dict[str, Any] = field(default_factory=dict)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    hold: threading.Event = field(default_factory=threading.Event)
    on_cancel: Callable[[], None] | None = None
    infrastructure_id: str | None = None
    heartbeat_seconds: float = HEARTBEAT_SECONDS
    futures: list[StratoflowFuture[Any]] = field(default_factory=list)
    _counters: dict[str, itertools.count[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_dynamic_key(self, task_key: str) -> str:
        """A per-run counter for each task, telling its calls apart (`0`, `1`, ...)."""
        with self._lock:
            counter = self._counters.setdefault(task_key, itertools.count())
            return str(next(counter))

    def cancel(self) -> None:
        """The run is being cancelled (or has finished): start no more of its tasks."""
        self.cancel_event.set()
        if self.on_cancel is not None:
            self.on_cancel()

    def track(self, future: StratoflowFuture[Any]) -> None:
        """Remember a submitted future so the flow waits for it before finishing."""
        with self._lock:
            self.futures.append(future)


@dataclass
class TaskRunContext:
    """A running task run; also what `cache_key_fn(context, arguments)` receives.

    Attributes:
        task: the task.
        task_run_id: the run's id.
        task_run_name: the run's name.
        flow_run: the flow run it belongs to.
        parameters: the task's bound arguments.
        run_count: 1 on the first attempt, then 2, 3, ... on retries.
        exception: the last attempt's exception, for `retry_condition_fn`.
        start_time: when the current attempt started.
    """

    task: Task[..., Any]
    task_run_id: UUID
    task_run_name: str
    flow_run: FlowRunContext
    parameters: dict[str, Any]
    run_count: int = 0
    exception: BaseException | None = None
    start_time: datetime | None = None


flow_run_context: ContextVar[FlowRunContext | None] = ContextVar("flow_run", default=None)
task_run_context: ContextVar[TaskRunContext | None] = ContextVar("task_run", default=None)
log_prints_enabled: ContextVar[bool] = ContextVar("log_prints", default=False)


def current_flow_run() -> FlowRunContext | None:
    """The flow run this code runs in, if any."""
    return flow_run_context.get()


def current_task_run() -> TaskRunContext | None:
    """The task run this code runs in, if any."""
    return task_run_context.get()
