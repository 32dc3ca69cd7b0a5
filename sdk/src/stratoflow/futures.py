"""Futures returned by `task.submit()` and `task.map()`.

A future wraps the thread-pool future of one task run. `.wait()` returns the run's final state
without raising; `.result()` returns the task's value or raises its exception; `.state` is the
run's state right now (Pending, Running, ...).
"""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast
from uuid import UUID

from stratoflow.runtime.outcome import Outcome
from stratoflow.schemas import State

if TYPE_CHECKING:
    from stratoflow.runtime.task_engine import TaskRunEngine

R = TypeVar("R")


class StratoflowFuture(Generic[R]):
    """The eventual result of a submitted task run.

    Args:
        engine: the engine running the task.
        future: the thread-pool future that yields the run's `Outcome`.
    """

    def __init__(self, engine: TaskRunEngine, future: concurrent.futures.Future[Outcome]) -> None:
        self._engine = engine
        self._future = future

    @property
    def task_run_id(self) -> UUID:
        """The task run's id (chosen by the engine when the task was submitted)."""
        return self._engine.task_run_id

    @property
    def name(self) -> str:
        """The task run's name."""
        return self._engine.name

    @property
    def state(self) -> State:
        """The task run's current state."""
        if self._future.done():
            return self._outcome().state
        return self._engine.state

    def done(self) -> bool:
        """Whether the task run has finished."""
        return self._future.done()

    def wait(self, timeout: float | None = None) -> State:
        """Wait for the task run to finish (or `timeout` seconds) and return its state."""
        try:
            return self._outcome(timeout).state
        except concurrent.futures.TimeoutError:
            return self._engine.state

    def result(self, timeout: float | None = None) -> R:
        """The task's return value.

        Raises:
            TimeoutError: the run did not finish within `timeout` seconds.
            Exception: the exception the task raised (after its retries).
        """
        return cast(R, self._outcome(timeout).unwrap())

    def _outcome(self, timeout: float | None = None) -> Outcome:
        return self._future.result(timeout)

    def __repr__(self) -> str:
        return f"StratoflowFuture(name={self.name!r}, state={self.state.name})"


def resolve_futures(value: Any) -> Any:
    """`value` with futures replaced by their results (used for flow return values)."""
    if isinstance(value, StratoflowFuture):
        return value.result()
    return value
