"""The flow-run engine: runs a flow in this process and records it through the orchestrator.

A direct call (`my_flow(x=1)`) binds and validates the parameters, creates the flow run (linked
to its parent task run when it is a subflow), then `FlowRunEngine.run` proposes Running, runs the
body with its context set, waits for submitted tasks, and proposes the final state, obeying each
answer (REJECT → take the given state, WAIT → wait and propose again, ABORT → stop; an ABORT
because the run is being cancelled becomes a CANCELLED proposal). A rejected Failed or TimedOut
that comes back as AwaitingRetry is retried in this process, each attempt with its own stop
flag, so the tasks of an abandoned (timed-out) attempt stay stopped. The engine learns of a
cancel from the heartbeat, from refused batch items and from refused task runs. `stratoflow
execute` enters at `execute_flow_run` with a run that exists already. An uncaught BaseException
(Ctrl-C, SIGTERM) is recorded as CRASHED before it propagates (CANCELLED if the run was being
cancelled: that is how an agent stops a cancelled run).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from stratoflow.exceptions import (
    AbortedRunError,
    CancelledRunError,
    FlowTimeoutError,
    ParameterValidationError,
    TerminationSignal,
)
from stratoflow.futures import StratoflowFuture
from stratoflow.runtime import logs
from stratoflow.runtime.batcher import TaskRunBatcher
from stratoflow.runtime.config import RuntimeConfig, runtime_for_call
from stratoflow.runtime.context import (
    FlowRunContext,
    current_flow_run,
    flow_run_context,
    log_prints_enabled,
)
from stratoflow.runtime.engine_logs import (
    failure_message,
    finished_line,
    flow_run_logger,
    log_finished,
    log_flow_failed,
    with_traceback,
)
from stratoflow.runtime.heartbeat import Heartbeat
from stratoflow.runtime.outcome import Outcome
from stratoflow.runtime.parameters import (
    bind_arguments,
    jsonable_parameters,
    signature_of,
    validate_parameters,
)
from stratoflow.runtime.signals import TerminationGuard
from stratoflow.runtime.timeouts import call_with_timeout
from stratoflow.schemas import (
    MAX_LOG_BATCH,
    DecisionStatus,
    FlowCreate,
    FlowRun,
    FlowRunCreate,
    OrchestrationResult,
    RetryPolicy,
    State,
    StateName,
    StateProposal,
    StateType,
    TaskRunCreate,
    utcnow,
)

if TYPE_CHECKING:
    from stratoflow.flows import Flow


def call_flow(flow: Flow[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run `flow` now (a subflow when called inside a flow run) and return its value.

    Raises:
        ParameterValidationError: the arguments do not match the flow's type hints (the run is
            recorded FAILED first).
        Exception: whatever the flow body raised, after the run was recorded.
    """
    parent = current_flow_run()
    if parent is not None:
        return FlowRunEngine(flow, _child_runtime(parent), parent).call(args, kwargs)
    runtime = runtime_for_call()
    with TerminationGuard() as guard:
        engine = FlowRunEngine(flow, runtime, guard=guard)
        try:
            return engine.call(args, kwargs)
        finally:
            if runtime.close_orchestrator:
                getattr(runtime.orchestrator, "close", lambda: None)()


def execute_flow_run(flow: Flow[..., Any], flow_run: FlowRun, runtime: RuntimeConfig) -> Outcome:
    """Run an existing flow run (what `stratoflow execute` does) and return how it ended."""
    with TerminationGuard() as guard:
        engine = FlowRunEngine(flow, runtime, guard=guard)
        return engine.run_existing(flow_run)


def _child_runtime(parent: FlowRunContext) -> RuntimeConfig:
    # A subflow runs in its parent's process: its heartbeats name what the parent's name.
    return RuntimeConfig(
        orchestrator=parent.orchestrator, results=parent.results, console=False,
        infrastructure_id=parent.infrastructure_id, heartbeat_pid=False,
        heartbeat_seconds=parent.heartbeat_seconds,
    )  # fmt: skip


class FlowRunEngine:
    """Runs one flow run.

    Args:
        flow: the flow.
        runtime: the orchestrator, result store and intervals to use.
        parent: the parent flow run when this is a subflow.
        guard: the SIGTERM guard of the outermost run (to re-deliver the signal after a crash).
    """

    def __init__(
        self,
        flow: Flow[..., Any],
        runtime: RuntimeConfig,
        parent: FlowRunContext | None = None,
        guard: TerminationGuard | None = None,
    ) -> None:
        self.flow = flow
        self.runtime = runtime
        self.parent = parent
        self.guard = guard
        self.orchestrator = runtime.orchestrator
        self.flow_run: FlowRun | None = None
        self._parent_task: TaskRunCreate | None = None
        self._created_running = False
        """Whether the server created the run RUNNING (its first attempt need not propose)."""
        self._finished_sent = False
        """Whether the `Finished in state` line went with the final state (console only now)."""
        self._cancelled = threading.Event()
        """Set once the server says the run is being cancelled (or has finished)."""
        self._attempt_stop = threading.Event()
        """The current attempt's stop flag: set on a cancel, or when the attempt timed out."""
        self._hold = threading.Event()
        """Set while a refused batch item is being looked into (tasks go the synchronous way)."""

    # --- entry points ---------------------------------------------------------------------

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A direct call: create the run, run it, return its value or raise its exception."""
        logs.setup_run_logging(console=self.runtime.console)
        error: ParameterValidationError | None = None
        try:
            parameters = validate_parameters(
                self.flow.fn, bind_arguments(self.flow.fn, args, kwargs)
            )
        except ParameterValidationError as exc:
            parameters, error = {"args": list(args), **kwargs}, exc
        run = self._create_run(parameters, start=error is None)
        if error is not None:
            self._fail_before_start(run, error)
            raise error
        return self.run(run, parameters, in_process_retries=True).unwrap()

    def run_existing(self, run: FlowRun) -> Outcome:
        """Run a flow run created elsewhere (by a deployment); retries are the server's job."""
        logs.setup_run_logging(console=self.runtime.console)
        self.flow_run = run
        try:
            parameters = validate_parameters(
                self.flow.fn, bind_arguments(self.flow.fn, (), dict(run.parameters))
            )
        except ParameterValidationError as exc:
            return self._fail_before_start(run, exc)
        return self.run(run, parameters, in_process_retries=False)

    # --- the run ----------------------------------------------------------------------------

    def run(self, run: FlowRun, parameters: dict[str, Any], in_process_retries: bool) -> Outcome:
        """Run the body until a final state (looping over in-process retries)."""
        self.flow_run = run
        with ExitStack() as services:
            context = self._start_services(run, parameters, services)
            try:
                return self._attempts(context, parameters, in_process_retries)
            except BaseException as exc:
                self._crash(context, exc)
                raise

    def _attempts(
        self, context: FlowRunContext, parameters: dict[str, Any], in_process_retries: bool
    ) -> Outcome:
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(context, parameters, attempt)
            if outcome.state.name != StateName.AWAITING_RETRY or not in_process_retries:
                return self._finish(outcome)
            if not self._wait_for_retry(outcome.state):
                return self._finish(Outcome(self._settle_cancel()))
            context = self._next_attempt_context(context)

    def _attempt(
        self, context: FlowRunContext, parameters: dict[str, Any], attempt: int
    ) -> Outcome:
        started = self._started(attempt)
        if started.type != StateType.RUNNING:
            return Outcome(started, None, _not_started(started))
        body = self._run_body(context, parameters)
        if body.exception is not None and not isinstance(body.exception, CancelledRunError):
            log_flow_failed(self._logger(), context.flow_run_name, body.exception)
        context.batcher.flush()
        final = self._propose_final(context, self._final_state(context, body))
        return Outcome(final, body.value, body.exception)

    def _started(self, attempt: int) -> State:
        """The first attempt of a run created RUNNING is started; any other proposes it."""
        assert self.flow_run is not None
        if attempt == 1 and self._created_running:
            return self.flow_run.state
        name = StateName.RUNNING if attempt == 1 else StateName.RETRYING
        # The policy travels with RUNNING so runs created elsewhere (deployments) get the
        # flow's retries too: the server schedules those retries for an agent to claim.
        return self._propose(State(type=StateType.RUNNING, name=name), self._retry_policy())

    def _next_attempt_context(self, context: FlowRunContext) -> FlowRunContext:
        """The context of a new attempt, with a fresh stop flag (the old attempt's stays set)."""
        stop = threading.Event()
        self._attempt_stop = stop
        if self._cancelled.is_set():  # checked after the swap, so no cancel is lost
            stop.set()
        return dataclasses.replace(context, cancel_event=stop, futures=[])

    def _run_body(self, context: FlowRunContext, parameters: dict[str, Any]) -> Outcome:
        """Run the flow function with its context set; never raises an Exception."""
        token = flow_run_context.set(context)
        prints = log_prints_enabled.set(bool(self.flow.log_prints))
        context.futures.clear()
        try:
            value = self._call_body(parameters)
            value = value.result() if isinstance(value, StratoflowFuture) else value
            return Outcome(State(type=StateType.COMPLETED), value)
        except Exception as exc:  # the flow's failure becomes its state
            return Outcome(State(type=StateType.FAILED), None, exc)
        finally:
            _wait_all(context)
            log_prints_enabled.reset(prints)
            flow_run_context.reset(token)

    def _call_body(self, parameters: dict[str, Any]) -> Any:
        signature = signature_of(self.flow.fn)
        bound = inspect.BoundArguments(signature, dict(parameters))
        timeout = self.flow.timeout_seconds
        if timeout is None:
            return self.flow.fn(*bound.args, **bound.kwargs)
        message = f"flow run exceeded {timeout}s"
        return call_with_timeout(
            lambda: self.flow.fn(*bound.args, **bound.kwargs), timeout,
            lambda: FlowTimeoutError(message),
        )  # fmt: skip

    def _final_state(self, context: FlowRunContext, body: Outcome) -> State:
        exc = body.exception
        if isinstance(exc, FlowTimeoutError):
            context.cancel_event.set()  # the abandoned body must not start more tasks
            return State(type=StateType.FAILED, name=StateName.TIMED_OUT, message=str(exc))
        if context.cancel_event.is_set() or isinstance(exc, CancelledRunError):
            return State(type=StateType.CANCELLED, message="the flow run was cancelled")
        if exc is not None:
            return State(type=StateType.FAILED, message=failure_message(exc))
        persist = bool(self.flow.persist_result)
        ref = context.results.write(body.value) if persist else None
        return State(type=StateType.COMPLETED, result=ref)

    def _wait_for_retry(self, state: State) -> bool:
        """Wait until the retry is due; False if the run was cancelled meanwhile."""
        scheduled = state.scheduled_time or utcnow()
        delay = max(0.0, (scheduled - utcnow()).total_seconds())
        return not self._cancelled.wait(delay)

    def _settle_cancel(self) -> State:
        """The final state of a run known to be cancelled: CANCELLED, proposed if need be."""
        assert self.flow_run is not None
        current = self.orchestrator.read_flow_run(self.flow_run.id).state
        if current.type == StateType.CANCELLING:
            return self._propose(State(type=StateType.CANCELLED, message=_CANCELLED))
        return current

    def _finish(self, outcome: Outcome) -> Outcome:
        exception = outcome.exception
        if exception is None and outcome.state.type == StateType.CANCELLED:
            exception = CancelledRunError(outcome.state.message or "the flow run was cancelled")
        outcome = Outcome(outcome.state, outcome.value, exception)
        log_finished(self._logger(shipped=self._finished_sent), outcome.state)
        self._mirror_on_parent(outcome.state)
        run = self.flow_run.model_copy(update={"state": outcome.state}) if self.flow_run else None
        for hook in self.flow.hooks_for(outcome.state):
            _call_hook(hook, self.flow, run, outcome.state)
        return outcome

    def _logger(self, shipped: bool = False) -> logging.LoggerAdapter[logging.Logger]:
        run = self.flow_run
        assert run is not None
        return flow_run_logger(run.id, run.name, shipped)

    def _crash(self, context: FlowRunContext, exc: BaseException) -> None:
        self._attempt_stop.set()
        context.batcher.flush()
        try:
            final = self._propose(self._crash_state(exc))
            self._logger().error(with_traceback(f"Crash detected! {failure_message(exc)}", exc))
            log_finished(self._logger(), final)
            self._mirror_on_parent(final)
        except Exception as report_error:  # the original exception matters more
            print(f"stratoflow: could not record the crash: {report_error}")
        if isinstance(exc, TerminationSignal) and self.guard is not None:
            context.logs.flush()
            self.guard.resend(exc.signum)

    def _crash_state(self, exc: BaseException) -> State:
        """CRASHED, or CANCELLED when the run was being cancelled (an agent stopping it)."""
        if self._cancelled.is_set() or self._current_type() == StateType.CANCELLING:
            message = f"the flow run was cancelled and stopped: {failure_message(exc)}"
            return State(type=StateType.CANCELLED, message=message)
        return State(type=StateType.CRASHED, message=f"Crashed: {failure_message(exc)}")

    def _current_type(self) -> StateType | None:
        assert self.flow_run is not None
        try:
            return self.orchestrator.read_flow_run(self.flow_run.id).state.type
        except Exception:  # unknown: the caller falls back to what it knows
            return None

    def _on_cancelling(self) -> None:
        """The run is being cancelled: stop the current attempt (from any thread)."""
        self._cancelled.set()
        self._attempt_stop.set()

    def _check_refused(self) -> None:
        """A batched record of this run was refused: hold task starts and read the run."""
        self._hold.set()
        current = self._current_type()
        if current is None:  # the API did not answer: tasks stay on the synchronous path
            return
        if current == StateType.CANCELLING or current.is_terminal:
            self._on_cancelling()
        self._hold.clear()

    # --- setting up -------------------------------------------------------------------------

    def _create_run(self, parameters: dict[str, Any], start: bool) -> FlowRun:
        """Create the run; asked to `start`, it is created RUNNING when the server's rules
        accept that (one call instead of a create and a proposal)."""
        parent_task_run_id = self._create_parent_task_run() if self.parent else None
        policy = self._retry_policy()
        state = State(type=StateType.RUNNING) if start else None
        body = FlowRunCreate(
            flow_id=self._flow_id(), flow_version=self.flow.version,
            parameters=jsonable_parameters(parameters), parent_task_run_id=parent_task_run_id,
            idempotency_key=f"sdk:{uuid4()}", retry_policy=policy, state=state,
        )  # fmt: skip
        self.flow_run = self.orchestrator.create_flow_run(body)
        self._created_running = self.flow_run.state.type == StateType.RUNNING
        return self.flow_run

    def _retry_policy(self) -> RetryPolicy:
        return RetryPolicy(retries=self.flow.retries, retry_delay_seconds=self.flow.delays())

    def _flow_id(self) -> Any:
        ids = self.runtime.flow_ids
        if self.flow.name not in ids:
            ids[self.flow.name] = self.orchestrator.create_flow(FlowCreate(name=self.flow.name)).id
        return ids[self.flow.name]

    def _create_parent_task_run(self) -> Any:
        assert self.parent is not None
        key = f"flow:{self.flow.name}"
        dynamic_key = self.parent.next_dynamic_key(key)
        self._parent_task = TaskRunCreate(
            id=uuid4(), flow_run_id=self.parent.flow_run_id, task_key=key,
            dynamic_key=dynamic_key, name=f"{self.flow.name}-{dynamic_key}",
        )  # fmt: skip
        self.orchestrator.create_task_run(self._parent_task)
        self._propose_parent(State(type=StateType.RUNNING))
        return self._parent_task.id

    def _start_services(
        self, run: FlowRun, parameters: dict[str, Any], services: ExitStack
    ) -> FlowRunContext:
        runtime = self.runtime
        batcher, shipper = self._shared_services(services)
        executor = services.enter_context(ThreadPoolExecutor(self.flow.task_concurrency))
        infra_id = runtime.infrastructure_id
        if infra_id is None and runtime.heartbeat_pid:
            infra_id = f"pid:{os.getpid()}"
        context = FlowRunContext(
            flow=self.flow, flow_run_id=run.id, flow_run_name=run.name,
            orchestrator=self.orchestrator, results=runtime.results, batcher=batcher,
            logs=shipper, executor=executor, parameters=parameters,
            cancel_event=self._attempt_stop, hold=self._hold, on_cancel=self._on_cancelling,
            infrastructure_id=infra_id, heartbeat_seconds=runtime.heartbeat_seconds,
        )  # fmt: skip
        logs.register_shipper(run.id, shipper)
        services.callback(logs.unregister_shipper, run.id)
        batcher.watch(run.id, self._check_refused)
        services.callback(batcher.unwatch, run.id)
        heartbeat = Heartbeat(
            self.orchestrator, run.id, self._on_cancelling, runtime.heartbeat_seconds, infra_id
        ).start()
        services.callback(heartbeat.stop)
        return context

    def _shared_services(self, services: ExitStack) -> tuple[TaskRunBatcher, logs.LogShipper]:
        if self.parent is not None:
            return self.parent.batcher, self.parent.logs
        shipper = logs.LogShipper(self.orchestrator, self.runtime.log_seconds)
        services.callback(shipper.close)
        batcher = TaskRunBatcher(self.orchestrator, self.runtime.batch_seconds)
        services.callback(batcher.close)
        return batcher, shipper

    def _fail_before_start(self, run: FlowRun, error: Exception) -> Outcome:
        self.flow_run = run
        failed = self._propose(State(type=StateType.FAILED, message=str(error)))
        return self._finish(Outcome(failed, None, error))

    # --- talking to the API ---------------------------------------------------------------

    def _propose(self, state: State, retry_policy: RetryPolicy | None = None) -> State:
        """Propose a flow-run state and obey the answer; returns the state the run is in."""
        assert self.flow_run is not None
        while True:
            proposal = StateProposal(state=state, transition_id=uuid4(), retry_policy=retry_policy)
            answer = self.orchestrator.set_flow_run_state(self.flow_run.id, proposal)
            if answer.status != DecisionStatus.WAIT:
                return self._obey(state, answer)
            self._wait_to_propose(answer)

    def _propose_final(self, context: FlowRunContext, state: State) -> State:
        """Propose a final state with the run's last log lines and its `Finished in state`
        line riding on it (written only if it is accepted; else they go the usual way). A
        subflow's lines go with its parent's, and a state that is not final goes alone."""
        assert self.flow_run is not None
        if self.parent is not None or not state.type.is_terminal:
            return self._propose(state)
        lines = context.logs.drain(MAX_LOG_BATCH - 1)
        lines.append(finished_line(self.flow_run.id, state))
        proposal = StateProposal(state=state, transition_id=uuid4(), logs=lines)
        answer = self.orchestrator.set_flow_run_state(self.flow_run.id, proposal)
        if answer.status == DecisionStatus.ACCEPT:
            self._finished_sent = True
            return self._took(answer.state or state, answer.version)
        context.logs.requeue(lines[:-1])
        if answer.status != DecisionStatus.WAIT:
            return self._obey(state, answer)
        self._wait_to_propose(answer)
        return self._propose(state)

    def _wait_to_propose(self, answer: OrchestrationResult) -> None:
        if self._cancelled.wait(answer.delay_seconds or 1.0):
            raise CancelledRunError("cancelled while waiting to change state")

    def _obey(self, state: State, answer: OrchestrationResult) -> State:
        if answer.status == DecisionStatus.ABORT:
            return self._aborted(state, answer)
        return self._took(answer.state or state, answer.version)

    def _took(self, state: State, version: int) -> State:
        assert self.flow_run is not None
        self.flow_run = self.flow_run.model_copy(update={"state": state, "version": version})
        return state

    def _aborted(self, proposed: State, answer: OrchestrationResult) -> State:
        """Obey an ABORT: a cancelling run ends CANCELLED; anything else stops the engine."""
        current = answer.state
        if current is not None and current.type == StateType.CANCELLING:
            self._on_cancelling()
            if proposed.type != StateType.CANCELLED:
                return self._propose(State(type=StateType.CANCELLED, message=_CANCELLED))
        if current is not None and current.type == StateType.CANCELLED:
            self._on_cancelling()
            return self._took(current, answer.version)
        raise AbortedRunError(answer.reason or "the API aborted the flow run")

    def _propose_parent(self, state: State) -> None:
        if self.parent is None or self._parent_task is None:
            return
        assert self._parent_task.id is not None
        proposal = StateProposal(state=state, transition_id=uuid4())
        self.orchestrator.set_task_run_state(self._parent_task.id, proposal)

    def _mirror_on_parent(self, state: State) -> None:
        if state.type.is_terminal:
            self._propose_parent(State(type=state.type, name=state.name, message=state.message))


_CANCELLED = "the flow run was cancelled"


def _not_started(state: State) -> Exception:
    if state.type in (StateType.CANCELLED, StateType.CANCELLING):
        return CancelledRunError(state.message or "the flow run was cancelled")
    return AbortedRunError(f"the flow run could not start: it is {state.name}")


def _wait_all(context: FlowRunContext) -> None:
    for future in list(context.futures):
        future.wait()


def _call_hook(hook: Any, *args: Any) -> None:
    try:
        hook(*args)
    except Exception as exc:  # a failing hook must not change the run's state
        print(f"stratoflow: hook {getattr(hook, '__name__', hook)!r} failed: {exc}")
