"""`@flow`: a function whose calls are recorded flow runs, with its tasks as task runs.

Calling a flow runs it in this process (a subflow, linked to a task run of its parent, when
called inside another flow). `flow.version` defaults to a hash of the function's source, so
every change of code is a new recorded version. The decorator keeps the function's signature for
type checkers (ParamSpec), in both the `@flow` and `@flow(...)` forms.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from stratoflow.schemas import FlowRun, State
from stratoflow.tasks import _check_options, _check_sync, _hooks, delay_list, source_hash

P = ParamSpec("P")
R = TypeVar("R")

FlowHook = Callable[["Flow[..., Any]", FlowRun | None, State], None]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\- ]{0,127}$")


def default_flow_name(fn: Callable[..., Any]) -> str:
    """A flow's default name: the function name with `_` as `-` (`nightly_etl` → `nightly-etl`)."""
    return fn.__name__.replace("_", "-").strip("-") or "flow"


class Flow(Generic[P, R]):
    """A flow: see `stratoflow.flow` for the options."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        version: str | None = None,
        description: str | None = None,
        retries: int = 0,
        retry_delay_seconds: float | list[float] = 0,
        timeout_seconds: float | None = None,
        log_prints: bool = False,
        persist_result: bool | None = None,
        task_concurrency: int | None = None,
        on_completion: Iterable[FlowHook] = (),
        on_failure: Iterable[FlowHook] = (),
        on_cancellation: Iterable[FlowHook] = (),
    ) -> None:
        _check_sync(fn, "flow")
        _check_options(retries, timeout_seconds, retry_delay_seconds)
        if task_concurrency is not None and task_concurrency < 1:
            raise ValueError("task_concurrency must be >= 1")
        self.fn = fn
        self.name = name or default_flow_name(fn)
        if not _NAME.match(self.name):
            raise ValueError(f"invalid flow name {self.name!r}: letters, digits, '.-_ ' only")
        self.version = version or source_hash(fn)
        self.description = description or (fn.__doc__ or "").strip().split("\n")[0] or None
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.timeout_seconds = timeout_seconds
        self.log_prints = log_prints
        self.persist_result = persist_result
        self.task_concurrency = task_concurrency
        self.on_completion = list(on_completion)
        self.on_failure = list(on_failure)
        self.on_cancellation = list(on_cancellation)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the flow now, recorded as a flow run, and return its value.

        Raises:
            ParameterValidationError: the arguments do not match the type hints (run FAILED).
            Exception: what the flow raised, after retries.
        """
        from stratoflow.runtime.engine import call_flow

        value: R = call_flow(self, args, kwargs)
        return value

    def delays(self) -> list[float]:
        """The retry delays as a list (the server's retry policy format)."""
        return delay_list(self.retry_delay_seconds)

    def with_options(self, **changes: Any) -> Flow[P, R]:
        """A copy of this flow with some options changed."""
        options = {key: getattr(self, key) for key in _FLOW_OPTIONS}
        return Flow(self.fn, **{**options, **changes})

    def hooks_for(self, state: State) -> list[FlowHook]:
        """The hooks to call for a final state."""
        return _hooks(state, self.on_completion, self.on_failure, self.on_cancellation)

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r}, version={self.version!r})"


_FLOW_OPTIONS = (
    "name", "version", "description", "retries", "retry_delay_seconds", "timeout_seconds",
    "log_prints", "persist_result", "task_concurrency", "on_completion", "on_failure",
    "on_cancellation",
)  # fmt: skip


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(
    *,
    name: str | None = None,
    version: str | None = None,
    description: str | None = None,
    retries: int = 0,
    retry_delay_seconds: float | list[float] = 0,
    timeout_seconds: float | None = None,
    log_prints: bool = False,
    persist_result: bool | None = None,
    task_concurrency: int | None = None,
    on_completion: Iterable[FlowHook] = (),
    on_failure: Iterable[FlowHook] = (),
    on_cancellation: Iterable[FlowHook] = (),
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make a function a flow.

    Args:
        fn: the function (when used as `@flow` without parentheses).
        **options: `name` (default: the function name with `-` for `_`); `version` (default: a
            hash of the source); `description`; `retries` and `retry_delay_seconds` (the server
            schedules AwaitingRetry; a directly called flow retries in this process);
            `timeout_seconds` (TimedOut after); `log_prints` (`print` becomes run logs, also in
            its tasks); `persist_result` (also the default of its tasks); `task_concurrency`
            (the most tasks run at once); and the hooks `on_completion`, `on_failure`,
            `on_cancellation` (each a list of `hook(flow, flow_run, state)`).

    Returns:
        A `Flow` with the function's signature.
    """
    if fn is not None:
        return Flow(fn, **options)
    return lambda inner: Flow(inner, **options)
