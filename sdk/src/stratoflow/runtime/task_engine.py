"""The task-run engine: one task call, from its arguments to its final state.

It resolves upstream futures, computes the cache key, then loops over attempts: propose
Running (Retrying on later attempts), run the body (with a time limit if set), then propose
Completed (with the persisted result) or AwaitingRetry/Failed/TimedOut. Before the first
proposal it asks the orchestration kernel (`needs_answer`) whether a rule could hold the run
back: if not, its states are recorded through the batcher without waiting; if so (today: tags,
a cache key, or a flow that is being cancelled or checked for it), each state is proposed and
the answer obeyed. Retry delays are the one retry arithmetic (`RetryPolicy.delay_for`) plus
the task's jitter. An ABORT because the flow run is cancelling or finished means the task is not
run: it ends CANCELLED and the flow run stops starting tasks. Hooks run for every final state
the task reaches, Cached and Cancelled included.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import uuid4

from stratoflow.exceptions import (
    AbortedRunError,
    CancelledRunError,
    StratoflowError,
    TaskTimeoutError,
    UpstreamTaskError,
)
from stratoflow.orchestration import TaskTraits, needs_answer
from stratoflow.runtime.context import (
    FlowRunContext,
    TaskRunContext,
    log_prints_enabled,
    task_run_context,
)
from stratoflow.runtime.engine_logs import (
    failure_message,
    log_task_failed,
    log_task_retry,
    task_run_logger,
)
from stratoflow.runtime.outcome import Outcome
from stratoflow.runtime.parameters import bind_call
from stratoflow.runtime.results import read_result
from stratoflow.runtime.timeouts import call_with_timeout
from stratoflow.schemas import (
    DecisionStatus,
    OrchestrationResult,
    State,
    StateName,
    StateProposal,
    StateType,
    TaskRunCreate,
    utcnow,
)

if TYPE_CHECKING:
    from stratoflow.tasks import Task


_JITTER = random.Random()  # noqa: S311 - retry jitter, not security
"""One generator for every task's retry jitter: seeding one per task run (from os.urandom)
cost more than the rest of a trivial task's bookkeeping."""


class TaskRunEngine:
    """Runs one call of a task inside a flow run.

    Args:
        task: the task.
        flow_run: the flow run's context.
        args: positional arguments of the call.
        kwargs: keyword arguments of the call.
        wait_for: futures that must finish first (their values are not passed).
    """

    def __init__(
        self,
        task: Task[..., Any],
        flow_run: FlowRunContext,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: tuple[Any, ...] = (),
    ) -> None:
        self.task = task
        self.flow_run = flow_run
        self.task_run_id = uuid4()
        dynamic_key = flow_run.next_dynamic_key(task.task_key)
        self.name = f"{task.name}-{dynamic_key}"
        self.state = State(type=StateType.PENDING)
        self._bound = bind_call(task.fn, args, kwargs)
        self._wait_for = wait_for
        self._create = TaskRunCreate(
            id=self.task_run_id, flow_run_id=flow_run.flow_run_id, task_key=task.task_key,
            dynamic_key=dynamic_key, name=self.name, tags=list(task.tags), state=self.state,
        )  # fmt: skip
        self._sync = False

    # --- entry points ---------------------------------------------------------------------

    def run(self) -> Outcome:
        """Run the task to a final state; BaseExceptions (SIGTERM, Ctrl-C) propagate."""
        try:
            self._resolve_upstream()
        except UpstreamTaskError as exc:
            return self._give_up(State(type=StateType.FAILED, message=str(exc)), exc)
        context = TaskRunContext(
            task=self.task, task_run_id=self.task_run_id, task_run_name=self.name,
            flow_run=self.flow_run, parameters=dict(self._bound.arguments),
        )  # fmt: skip
        cache_key = self._cache_key(context)
        self._sync = needs_answer(self._traits(cache_key))
        if cache_key:
            self._create = self._create.model_copy(update={"cache_key": cache_key})
        if self._sync:
            self.flow_run.orchestrator.create_task_run(self._create)
        try:
            return self._attempts(context, cache_key)
        except CancelledRunError as exc:
            return self._cancelled(context, exc)

    def _traits(self, cache_key: str | None) -> TaskTraits:
        """What the kernel needs to say whether this run's proposals must wait for answers."""
        flow_run = self.flow_run
        return TaskTraits(
            tags=self.task.tags,
            cache_key=cache_key,
            flow_stopping=flow_run.cancel_event.is_set() or flow_run.hold.is_set(),
        )

    def _cancelled(self, context: TaskRunContext, exc: CancelledRunError) -> Outcome:
        """Record the task CANCELLED (best effort: the flow run is ending) and run the hooks."""
        state = State(type=StateType.CANCELLED, message=str(exc))
        try:
            state = self._propose(state)
        except StratoflowError:  # the run is finished already, or the API refused: keep ours
            self.state = state
        return self._finish(Outcome(state, None, exc), context)

    def _give_up(self, state: State, exc: BaseException) -> Outcome:
        taken = self._propose(state)
        return Outcome(taken, None, exc)

    # --- upstream ---------------------------------------------------------------------------

    def _resolve_upstream(self) -> None:
        from stratoflow.futures import StratoflowFuture

        for future in self._wait_for:
            if (
                isinstance(future, StratoflowFuture)
                and not future.wait().type == StateType.COMPLETED
            ):
                raise UpstreamTaskError(f"upstream task run {future.name!r} did not complete")
        for name, value in self._bound.arguments.items():
            self._bound.arguments[name] = _resolve(value)

    # --- attempts ---------------------------------------------------------------------------

    def _attempts(self, context: TaskRunContext, cache_key: str | None) -> Outcome:
        attempt = 0
        while True:
            attempt += 1
            started = self._start(attempt, cache_key)
            if started is not None:
                return self._finish(started, context)
            context.run_count, context.start_time = attempt, utcnow()
            try:
                value = self._execute(context)
            except Exception as exc:  # the task's failure becomes its state
                context.exception = exc
                if self._should_retry(context, attempt):
                    self._await_retry(attempt, exc)
                    continue
                name = (
                    StateName.TIMED_OUT if isinstance(exc, TaskTimeoutError) else StateName.FAILED
                )
                failed = State(type=StateType.FAILED, name=name, message=failure_message(exc))
                log_task_failed(self._logger(), self.name, exc)
                return self._finish(Outcome(self._propose(failed), None, exc), context)
            return self._finish(self._complete(value, cache_key), context)

    def _start(self, attempt: int, cache_key: str | None) -> Outcome | None:
        """Propose Running; None when the body may run, else the outcome (cached, cancelled)."""
        if self.flow_run.cancel_event.is_set():
            name = self.flow_run.flow_run_name
            raise CancelledRunError(f"flow run {name!r} is cancelled or its attempt timed out")
        name = StateName.RUNNING if attempt == 1 else StateName.RETRYING
        taken = self._propose(State(type=StateType.RUNNING, name=name, cache_key=cache_key))
        if taken.type == StateType.RUNNING:
            return None
        if taken.type == StateType.COMPLETED and taken.result is not None:
            return Outcome(taken, read_result(taken.result, self.flow_run.results))
        if taken.type in (StateType.CANCELLED, StateType.CANCELLING):
            self.flow_run.cancel()
            raise CancelledRunError(taken.message or "the flow run is cancelling")
        return Outcome(taken, None, StratoflowError(f"task run could not start: {taken.name}"))

    def _execute(self, context: TaskRunContext) -> Any:
        task, bound = self.task, self._bound

        def body() -> Any:
            token = task_run_context.set(context)
            prints = log_prints_enabled.set(self._log_prints())
            try:
                return task.fn(*bound.args, **bound.kwargs)
            finally:
                log_prints_enabled.reset(prints)
                task_run_context.reset(token)

        if task.timeout_seconds is None:
            return body()
        message = f"task run {self.name!r} exceeded {task.timeout_seconds}s"
        return call_with_timeout(body, task.timeout_seconds, lambda: TaskTimeoutError(message))

    def _should_retry(self, context: TaskRunContext, attempt: int) -> bool:
        if attempt > self.task.retries:
            return False
        condition = self.task.retry_condition_fn
        if condition is None:
            return True
        failed = State(
            type=StateType.FAILED, message=failure_message(context.exception or Exception())
        )
        return bool(condition(self.task, context, failed))

    def _await_retry(self, attempt: int, exc: BaseException) -> None:
        delay = self._retry_delay(attempt)
        log_task_retry(
            self._logger(), self.name, exc,
            delay=delay, attempt=attempt, attempts=self.task.retries + 1,
        )  # fmt: skip
        retry = State(
            type=StateType.SCHEDULED, name=StateName.AWAITING_RETRY, message=failure_message(exc),
            scheduled_time=utcnow() + timedelta(seconds=delay),
        )  # fmt: skip
        self._propose(retry)
        if self.flow_run.cancel_event.wait(delay):
            raise CancelledRunError("the flow run was cancelled while a task awaited a retry")

    def _retry_delay(self, attempt: int) -> float:
        """Seconds before retry `attempt` (1-based): the one retry arithmetic
        (`RetryPolicy.delay_for`), stretched by up to the task's jitter factor at random."""
        delay = self.task.retry_delays().delay_for(attempt)
        jitter = self.task.retry_jitter_factor
        return delay + _JITTER.uniform(0, delay * jitter) if jitter else delay

    def _complete(self, value: Any, cache_key: str | None) -> Outcome:
        ref = self.flow_run.results.write(value) if self._persist(cache_key) else None
        expiration = self.task.cache_expiration
        completed = State(
            type=StateType.COMPLETED, result=ref, cache_key=cache_key,
            cache_expiration=utcnow() + expiration if cache_key and expiration else None,
        )  # fmt: skip
        return Outcome(self._propose(completed), value)

    def _finish(self, outcome: Outcome, context: TaskRunContext) -> Outcome:
        hooks = self.task.hooks_for(outcome.state)
        for hook in hooks:
            _call_hook(hook, self.task, context, outcome.state)
        return outcome

    # --- settings resolved against the flow ---------------------------------------------------

    def _persist(self, cache_key: str | None) -> bool:
        if self.task.persist_result is not None:
            return self.task.persist_result
        return bool(cache_key) or bool(self.flow_run.flow.persist_result)

    def _log_prints(self) -> bool:
        if self.task.log_prints is not None:
            return self.task.log_prints
        return bool(self.flow_run.flow.log_prints)

    def _cache_key(self, context: TaskRunContext) -> str | None:
        if self.task.cache_key_fn is None:
            return None
        key = self.task.cache_key_fn(context, dict(self._bound.arguments))
        return str(key) if key else None

    def _logger(self) -> logging.LoggerAdapter[logging.Logger]:
        return task_run_logger(self.flow_run, self.task_run_id, self.name)

    # --- talking to the API ---------------------------------------------------------------

    def _propose(self, state: State) -> State:
        """Record `state`: queued in the batcher, or proposed and obeyed on the sync path."""
        if not self._sync:
            self.flow_run.batcher.record(self._create, state)
            self.state = state
            return state
        while True:
            proposal = StateProposal(state=state, transition_id=uuid4())
            answer = self.flow_run.orchestrator.set_task_run_state(self.task_run_id, proposal)
            if answer.status == DecisionStatus.WAIT:
                if self.flow_run.cancel_event.wait(answer.delay_seconds or 1.0):
                    raise CancelledRunError("the flow run was cancelled while a task waited")
                continue
            if answer.status == DecisionStatus.ABORT:
                self._aborted(answer)
            self.state = answer.state or state
            return self.state

    def _aborted(self, answer: OrchestrationResult) -> NoReturn:
        """An ABORT: if the flow run is cancelling or finished, stop it cooperatively."""
        reason = answer.reason or "the API aborted the task run"
        if self._flow_run_stopping():
            self.flow_run.cancel()
            raise CancelledRunError(f"task run {self.name!r} stopped: {reason}")
        raise AbortedRunError(reason)

    def _flow_run_stopping(self) -> bool:
        current = self.flow_run.orchestrator.read_flow_run(self.flow_run.flow_run_id).state
        return current.type == StateType.CANCELLING or current.is_terminal


def _resolve(value: Any) -> Any:
    """Replace futures (also inside lists, tuples, sets and dict values) by their results."""
    from stratoflow.futures import StratoflowFuture

    if isinstance(value, StratoflowFuture):
        if value.wait().type != StateType.COMPLETED:
            raise UpstreamTaskError(f"upstream task run {value.name!r} did not complete")
        return value.result()
    if isinstance(value, list | tuple | set):
        return type(value)(_resolve(item) for item in value)
    if isinstance(value, dict):
        return {key: _resolve(item) for key, item in value.items()}
    return value


def _call_hook(hook: Callable[..., Any], *args: Any) -> None:
    try:
        hook(*args)
    except Exception as exc:  # a failing hook must not change the run's state
        print(f"stratoflow: hook {getattr(hook, '__name__', hook)!r} failed: {exc}")
