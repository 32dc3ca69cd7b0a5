"""`@task`: a function whose calls inside a flow are task runs (retried, cached, recorded).

Calling a task inside a flow runs it now and returns its value; `.submit()` runs it on the
flow's thread pool and returns a `StratoflowFuture`; `.map()` submits one run per element.
Outside a flow a call just calls the function. The decorator keeps the function's signature
for type checkers (ParamSpec), in both the `@task` and `@task(...)` forms.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import inspect
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Generic, ParamSpec, TypeVar, overload

from pydantic import ValidationError

from stratoflow.exceptions import MissingContextError
from stratoflow.futures import StratoflowFuture
from stratoflow.runtime.context import FlowRunContext, TaskRunContext, current_flow_run
from stratoflow.runtime.engine_logs import failure_message
from stratoflow.runtime.outcome import Outcome
from stratoflow.runtime.task_engine import TaskRunEngine
from stratoflow.schemas import RetryPolicy, State, StateType

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

CacheKeyFn = Callable[[TaskRunContext, dict[str, Any]], str | None]
RetryConditionFn = Callable[["Task[..., Any]", TaskRunContext, State], bool]
TaskHook = Callable[["Task[..., Any]", TaskRunContext, State], None]


def source_hash(fn: Callable[..., Any]) -> str:
    """A short hash of a function's source (of its bytecode if the source is unavailable)."""
    try:
        data = inspect.getsource(fn).encode()
    except (OSError, TypeError):
        data = fn.__code__.co_code if hasattr(fn, "__code__") else repr(fn).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def _check_sync(fn: Callable[..., Any], kind: str) -> None:
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"@{kind} supports plain functions; {fn.__name__} is async")


class unmapped(Generic[T]):  # noqa: N801 - reads like Prefect's, as users expect
    """Wrap an argument of `task.map()` so it is passed whole to every run, not iterated."""

    def __init__(self, value: T) -> None:
        self.value = value


class Task(Generic[P, R]):
    """A task: see `stratoflow.task` for the options."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        retries: int = 0,
        retry_delay_seconds: float | list[float] = 0,
        retry_jitter_factor: float | None = None,
        retry_condition_fn: RetryConditionFn | None = None,
        timeout_seconds: float | None = None,
        tags: Iterable[str] = (),
        cache_key_fn: CacheKeyFn | None = None,
        cache_expiration: timedelta | None = None,
        persist_result: bool | None = None,
        log_prints: bool | None = None,
        on_completion: Iterable[TaskHook] = (),
        on_failure: Iterable[TaskHook] = (),
        on_cancellation: Iterable[TaskHook] = (),
    ) -> None:
        _check_sync(fn, "task")
        _check_options(retries, timeout_seconds, retry_delay_seconds)
        self.fn = fn
        self.name = name or fn.__name__
        self.task_key = f"{fn.__qualname__}-{source_hash(fn)}"[-256:]
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.retry_jitter_factor = retry_jitter_factor
        self.retry_condition_fn = retry_condition_fn
        self.timeout_seconds = timeout_seconds
        self.tags = tuple(tags)
        self.cache_key_fn = cache_key_fn
        self.cache_expiration = cache_expiration
        self.persist_result = persist_result
        self.log_prints = log_prints
        self.on_completion = list(on_completion)
        self.on_failure = list(on_failure)
        self.on_cancellation = list(on_cancellation)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the task now and return its value (a plain call outside a flow)."""
        flow_run = current_flow_run()
        if flow_run is None:
            return self.fn(*args, **kwargs)
        outcome = TaskRunEngine(self, flow_run, args, kwargs).run()
        flow_run_value: R = outcome.unwrap()
        return flow_run_value

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> StratoflowFuture[R]:
        """Run the task on the flow's thread pool; returns a future at once.

        Raises:
            MissingContextError: called outside a flow run.
        """
        flow_run = _require_flow_run(self.name)
        return _submit(self, flow_run, args, kwargs)

    def map(self, *args: Any, **kwargs: Any) -> list[StratoflowFuture[R]]:
        """Submit one run per element of the iterable arguments (wrap constants in `unmapped`).

        Raises:
            ValueError: the iterable arguments have different lengths.
            MissingContextError: called outside a flow run.
        """
        flow_run = _require_flow_run(self.name)
        return [_submit(self, flow_run, a, k) for a, k in _map_calls(args, kwargs)]

    def with_options(self, **changes: Any) -> Task[P, R]:
        """A copy of this task with some options changed."""
        options = {key: getattr(self, key) for key in _TASK_OPTIONS}
        return Task(self.fn, **{**options, **changes})

    def hooks_for(self, state: State) -> list[TaskHook]:
        """The hooks to call for a final state."""
        return _hooks(state, self.on_completion, self.on_failure, self.on_cancellation)

    def retry_delays(self) -> RetryPolicy:
        """The task's retry delays as a `RetryPolicy`, whose `delay_for` is the one retry
        arithmetic (the engine decides task retries itself, so the policy's `retries` is unused)."""
        return RetryPolicy(retry_delay_seconds=delay_list(self.retry_delay_seconds))

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"


_TASK_OPTIONS = (
    "name", "retries", "retry_delay_seconds", "retry_jitter_factor", "retry_condition_fn",
    "timeout_seconds", "tags", "cache_key_fn", "cache_expiration", "persist_result",
    "log_prints", "on_completion", "on_failure", "on_cancellation",
)  # fmt: skip


def _hooks(state: State, completed: list[T], failed: list[T], cancelled: list[T]) -> list[T]:
    if state.type == StateType.COMPLETED:
        return completed
    if state.type == StateType.FAILED:
        return failed
    if state.type == StateType.CANCELLED:
        return cancelled
    return []


def _check_options(retries: int, timeout: float | None, delays: float | list[float]) -> None:
    if retries < 0:
        raise ValueError("retries must be >= 0")
    if timeout is not None and timeout <= 0:
        raise ValueError("timeout_seconds must be > 0")
    values = delay_list(delays)
    if any(delay < 0 for delay in values):
        raise ValueError("retry_delay_seconds must be >= 0")
    try:  # the delays are read through RetryPolicy, so they must make one
        RetryPolicy(retry_delay_seconds=values)
    except ValidationError as exc:
        raise ValueError(f"retry_delay_seconds: {exc.errors()[0]['msg']}") from None


def delay_list(delays: float | list[float]) -> list[float]:
    """Retry delays as a list (the form `RetryPolicy` takes): a number is a list of one."""
    return [float(d) for d in delays] if isinstance(delays, list) else [float(delays)]


def _require_flow_run(name: str) -> FlowRunContext:
    flow_run = current_flow_run()
    if flow_run is None:
        raise MissingContextError(f"task {name!r} can only be submitted inside a flow run")
    return flow_run


def _submit(
    task: Task[..., Any], flow_run: FlowRunContext, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> StratoflowFuture[Any]:
    engine = TaskRunEngine(task, flow_run, args, kwargs)
    context = contextvars.copy_context()
    future: StratoflowFuture[Any] = StratoflowFuture(
        engine, flow_run.executor.submit(context.run, _run_to_outcome, engine)
    )
    flow_run.track(future)
    return future


def _run_to_outcome(engine: TaskRunEngine) -> Outcome:
    try:
        return engine.run()
    except Exception as exc:  # e.g. the API unreachable: the future fails
        return Outcome(State(type=StateType.FAILED, message=failure_message(exc)), None, exc)


def _map_calls(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    def mapped(value: Any) -> bool:
        return not isinstance(value, unmapped | str | bytes | dict) and isinstance(value, Iterable)

    lists = {
        key: list(value) for key, value in [*enumerate(args), *kwargs.items()] if mapped(value)
    }
    lengths = {len(value) for value in lists.values()}
    if len(lengths) > 1:
        raise ValueError(f"map() got iterables of different lengths: {sorted(lengths)}")
    count = lengths.pop() if lengths else 0

    def pick(key: int | str, value: Any, index: int) -> Any:
        if key in lists:
            return lists[key][index]
        return value.value if isinstance(value, unmapped) else value

    return [
        (
            tuple(pick(i, value, n) for i, value in enumerate(args)),
            {key: pick(key, value, n) for key, value in kwargs.items()},
        )
        for n in range(count)
    ]


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay_seconds: float | list[float] = 0,
    retry_jitter_factor: float | None = None,
    retry_condition_fn: RetryConditionFn | None = None,
    timeout_seconds: float | None = None,
    tags: Iterable[str] = (),
    cache_key_fn: CacheKeyFn | None = None,
    cache_expiration: timedelta | None = None,
    persist_result: bool | None = None,
    log_prints: bool | None = None,
    on_completion: Iterable[TaskHook] = (),
    on_failure: Iterable[TaskHook] = (),
    on_cancellation: Iterable[TaskHook] = (),
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make a function a task.

    Args:
        fn: the function (when used as `@task` without parentheses).
        **options: `name`; `retries` and `retry_delay_seconds` (a number or a list, the last
            entry repeating); `retry_jitter_factor` (each delay stretched by up to this fraction);
            `retry_condition_fn(task, context, state) -> bool` (retry only when true);
            `timeout_seconds` (TimedOut after); `tags` (server concurrency limits apply);
            `cache_key_fn(context, arguments) -> str` and `cache_expiration` (a hit returns the
            stored result without running); `persist_result`; `log_prints`; and the hooks
            `on_completion`, `on_failure`, `on_cancellation` (each a list of
            `hook(task, context, state)`).

    Returns:
        A `Task` with the function's signature.
    """
    if fn is not None:
        return Task(fn, **options)
    return lambda inner: Task(inner, **options)
