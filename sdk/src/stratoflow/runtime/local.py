"""An in-memory orchestrator: what flows talk to when no API is configured.

It applies the handful of rules the engine relies on (no way out of a terminal state, flow-run
retries become AwaitingRetry, cache hits become Cached, tag concurrency limits answer WAIT,
tasks of a cancelling flow are not started) and answers them the way the server does: ABORT
with the run unchanged for a terminal run, for a cancelling run proposed into anything but
CANCELLED/CRASHED, and for a task of a cancelling or finished flow run; WAIT for a task of a
flow run that is not running yet. So offline runs behave like recorded ones. The cache
index can live in a folder, so offline caching also works across processes. Test doubles of the
HTTP API reuse it as their backing store.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

from pydantic import ValidationError

from stratoflow.schemas import (
    DecisionStatus,
    Flow,
    FlowCreate,
    FlowRun,
    FlowRunCreate,
    FlowRunHeartbeat,
    LogCreate,
    LogsWritten,
    OrchestrationResult,
    State,
    StateProposal,
    StateType,
    TaskRun,
    TaskRunBatch,
    TaskRunBatchResponse,
    TaskRunBatchResult,
    TaskRunCreate,
    utcnow,
)

WAIT_SECONDS = 0.05
"""How long a task waiting for a tag slot (or for its flow run to start) is told to wait."""


class UnknownRunError(KeyError):
    """A run id the local orchestrator has never seen."""


class LocalOrchestrator:
    """Flow runs, task runs, logs and a result cache kept in memory (thread-safe).

    Args:
        cache_dir: where to keep the cache index (one JSON file per cache key); in memory if None.
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._lock = threading.RLock()
        self.flows: dict[str, Flow] = {}
        self.flow_runs: dict[UUID, FlowRun] = {}
        self.task_runs: dict[UUID, TaskRun] = {}
        self.logs: list[LogCreate] = []
        self.flow_run_states: dict[UUID, list[State]] = {}
        self.task_run_states: dict[UUID, list[State]] = {}
        self.concurrency_limits: dict[str, int] = {}
        self._slots: dict[str, set[UUID]] = {}
        self._cache: dict[str, State] = {}
        self._cache_dir = cache_dir

    # --- flows and flow runs -----------------------------------------------------------------

    def create_flow(self, body: FlowCreate) -> Flow:
        """Register a flow by name (idempotent)."""
        with self._lock:
            if body.name not in self.flows:
                self.flows[body.name] = Flow(id=uuid4(), created=utcnow(), **body.model_dump())
            return self.flows[body.name]

    def create_flow_run(self, body: FlowRunCreate) -> FlowRun:
        """Create a flow run in its initial state (Pending unless given)."""
        with self._lock:
            flow = next(f for f in self.flows.values() if f.id == body.flow_id)
            now = utcnow()
            state = body.state or State(type=StateType.PENDING)
            data = body.model_dump(exclude={"state", "idempotency_key", "name"})
            run = FlowRun(
                id=uuid4(), name=body.name or f"{flow.name}-{now:%H%M%S%f}",
                flow_name=flow.name, state=state, created=now, updated=now, **data,
            )  # fmt: skip
            self.flow_runs[run.id] = run
            self.flow_run_states[run.id] = [state]
            self._link_subflow(run)
            return run

    def _link_subflow(self, run: FlowRun) -> None:
        parent = self.task_runs.get(run.parent_task_run_id) if run.parent_task_run_id else None
        if parent is not None:
            self.task_runs[parent.id] = parent.model_copy(update={"subflow_run_id": run.id})

    def read_flow_run(self, flow_run_id: UUID) -> FlowRun:
        """Read a flow run."""
        with self._lock:
            return self._flow_run(flow_run_id)

    def _flow_run(self, flow_run_id: UUID) -> FlowRun:
        try:
            return self.flow_runs[flow_run_id]
        except KeyError:
            raise UnknownRunError(f"flow run {flow_run_id} not found") from None

    def set_flow_run_state(self, flow_run_id: UUID, proposal: StateProposal) -> OrchestrationResult:
        """Apply the flow-run rules to a proposal."""
        with self._lock:
            run = self._flow_run(flow_run_id)
            if proposal.retry_policy is not None:
                run = run.model_copy(update={"retry_policy": proposal.retry_policy})
            decision = _flow_rule(run, proposal.state)
            return self._apply_flow(run, decision, proposal.state)

    def _apply_flow(
        self, run: FlowRun, decision: OrchestrationResult, proposed: State
    ) -> OrchestrationResult:
        if decision.status not in (DecisionStatus.ACCEPT, DecisionStatus.REJECT):
            return decision
        state = decision.state or proposed
        update = _run_update(run.run_count, run.start_time, state)
        run = run.model_copy(update={**update, "state": state, "version": run.version + 1})
        self.flow_runs[run.id] = run
        self.flow_run_states[run.id].append(state)
        return decision.model_copy(update={"state": state, "version": run.version})

    def heartbeat_flow_run(
        self, flow_run_id: UUID, body: FlowRunHeartbeat | None = None
    ) -> FlowRun:
        """Record a heartbeat and answer with the run (its state may be CANCELLING)."""
        with self._lock:
            run = self._flow_run(flow_run_id).model_copy(update={"heartbeat": utcnow()})
            self.flow_runs[flow_run_id] = run
            return run

    def cancel_flow_run(self, flow_run_id: UUID) -> OrchestrationResult:
        """SCHEDULED/PENDING → Cancelled; RUNNING → Cancelling; CANCELLING stays; else ABORT."""
        with self._lock:
            run = self._flow_run(flow_run_id)
            if run.state.type in (StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED):
                target = State(type=StateType.CANCELLED, message="cancelled before it started")
            elif run.state.type == StateType.RUNNING:
                target = State(type=StateType.CANCELLING, message="cancellation requested")
            elif run.state.type == StateType.CANCELLING:
                return _answer(DecisionStatus.ACCEPT, run.state, run.version)
            else:
                return _answer(DecisionStatus.ABORT, run.state, run.version, "run is finished")
            return self._apply_flow(run, _answer(DecisionStatus.ACCEPT, target, 0), target)

    # --- task runs ----------------------------------------------------------------------------

    def create_task_run(self, body: TaskRunCreate) -> TaskRun:
        """Create a task run; a known client-chosen id returns the existing run."""
        with self._lock:
            if body.id is not None and body.id in self.task_runs:
                return self.task_runs[body.id]
            now = utcnow()
            state = body.state or State(type=StateType.PENDING)
            data = body.model_dump(exclude={"state", "id"})
            run = TaskRun(id=body.id or uuid4(), state=state, created=now, updated=now, **data)
            self.task_runs[run.id] = run
            self.task_run_states[run.id] = [state]
            return run

    def set_task_run_state(self, task_run_id: UUID, proposal: StateProposal) -> OrchestrationResult:
        """Apply the task-run rules to a proposal."""
        with self._lock:
            run = self.task_runs[task_run_id]
            decision = self._task_rule(run, proposal.state)
            if decision.status not in (DecisionStatus.ACCEPT, DecisionStatus.REJECT):
                return decision
            state = decision.state or proposal.state
            self._after_task_state(run, state)
            update = _run_update(run.run_count, run.start_time, state)
            run = run.model_copy(update={**update, "state": state, "version": run.version + 1})
            self.task_runs[run.id] = run
            self.task_run_states[run.id].append(state)
            return decision.model_copy(update={"state": state, "version": run.version})

    def _task_rule(self, run: TaskRun, state: State) -> OrchestrationResult:
        refused = _leaving_terminal(run.state, state, run.version)
        if refused is not None or state.type != StateType.RUNNING:
            return refused or _answer(DecisionStatus.ACCEPT, state, run.version)
        gate = _flow_gate(self._flow_run(run.flow_run_id).state, run)
        if gate is not None:
            return gate
        cached = self._cache_hit(state.cache_key or run.cache_key)
        if cached is not None:
            return _answer(DecisionStatus.REJECT, cached, run.version, "cache hit")
        if not self._take_slots(run):
            return OrchestrationResult(
                status=DecisionStatus.WAIT, version=run.version, delay_seconds=WAIT_SECONDS
            )
        return _answer(DecisionStatus.ACCEPT, state, run.version)

    def _take_slots(self, run: TaskRun) -> bool:
        limited = [tag for tag in run.tags if tag in self.concurrency_limits]
        for tag in limited:
            held = self._slots.setdefault(tag, set())
            if run.id not in held and len(held) >= self.concurrency_limits[tag]:
                return False
        for tag in limited:
            self._slots[tag].add(run.id)
        return True

    def _after_task_state(self, run: TaskRun, state: State) -> None:
        if state.type != StateType.RUNNING:
            for held in self._slots.values():
                held.discard(run.id)
        if state.type == StateType.COMPLETED and state.cache_key and state.result:
            self._cache_put(state)

    def create_task_runs_batch(self, body: TaskRunBatch) -> TaskRunBatchResponse:
        """Create each item's task run (if new) and propose its states in order."""
        results = [self._batch_item(item.task_run, item.states) for item in body.items]
        return TaskRunBatchResponse(results=results)

    def _batch_item(self, create: TaskRunCreate, states: list[State]) -> TaskRunBatchResult:
        with self._lock:
            run = self.create_task_run(create)
            answer = _answer(DecisionStatus.ACCEPT, run.state, run.version)
            for state in states:
                answer = self.set_task_run_state(run.id, StateProposal(state=state))
                if answer.status != DecisionStatus.ACCEPT:
                    break
            current = self.task_runs[run.id]
            return TaskRunBatchResult(
                task_run_id=run.id, status=answer.status, state=current.state,
                version=current.version,
            )  # fmt: skip

    # --- cache ------------------------------------------------------------------------------

    def _cache_file(self, key: str) -> Path | None:
        if self._cache_dir is None:
            return None
        return self._cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def _cache_put(self, state: State) -> None:
        key = state.cache_key or ""
        cached = State(
            type=StateType.COMPLETED, name="Cached", result=state.result, cache_key=key,
            cache_expiration=state.cache_expiration, message="result from cache",
        )  # fmt: skip
        self._cache[key] = cached
        path = self._cache_file(key)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(cached.model_dump_json(), encoding="utf-8")

    def _cache_hit(self, key: str | None) -> State | None:
        if not key:
            return None
        cached = self._cache.get(key) or self._cache_read(key)
        if cached is None:
            return None
        if cached.cache_expiration is not None and cached.cache_expiration <= utcnow():
            return None
        return cached.model_copy(update={"timestamp": utcnow()})

    def _cache_read(self, key: str) -> State | None:
        path = self._cache_file(key)
        if path is None or not path.exists():
            return None
        try:
            return State.model_validate_json(path.read_bytes())
        except ValidationError:
            return None  # a corrupt index entry is a cache miss, never a failure

    # --- logs ---------------------------------------------------------------------------------

    def write_logs(self, logs: Sequence[LogCreate]) -> LogsWritten:
        """Keep log lines in memory (offline runs print them to the console too)."""
        with self._lock:
            self.logs.extend(logs)
            return LogsWritten(count=len(logs))


def _answer(
    status: DecisionStatus, state: State | None, version: int, reason: str | None = None
) -> OrchestrationResult:
    return OrchestrationResult(status=status, state=state, version=version, reason=reason)


def _leaving_terminal(current: State, state: State, version: int) -> OrchestrationResult | None:
    """ABORT (run unchanged) for a finished run, or a cancelling one not proposed to end."""
    if current.is_terminal:
        reason = f"run is {current.type.value} ({current.name}), a terminal state"
        return _answer(DecisionStatus.ABORT, current, version, reason)
    if current.type == StateType.CANCELLING and state.type not in _ENDS_CANCELLING:
        reason = f"run is cancelling; {state.type.value} is not allowed"
        return _answer(DecisionStatus.ABORT, current, version, reason)
    return None


_ENDS_CANCELLING = (StateType.CANCELLED, StateType.CRASHED)


def _flow_gate(flow_state: State, run: TaskRun) -> OrchestrationResult | None:
    """A task starts only in a RUNNING flow run: ABORT once it stops, WAIT until it starts."""
    if flow_state.type == StateType.RUNNING:
        return None
    if flow_state.type == StateType.CANCELLING or flow_state.is_terminal:
        kind = "cancelling" if flow_state.type == StateType.CANCELLING else "finished"
        reason = f"flow run is {kind}, task not started"
        return _answer(DecisionStatus.ABORT, run.state, run.version, reason)
    return OrchestrationResult(
        status=DecisionStatus.WAIT, state=run.state, version=run.version,
        delay_seconds=WAIT_SECONDS, reason="flow run is not RUNNING yet",
    )  # fmt: skip


def _flow_rule(run: FlowRun, state: State) -> OrchestrationResult:
    """The flow-run rules the engine relies on offline."""
    current = run.state
    refused = _leaving_terminal(current, state, run.version)
    if refused is not None:
        return refused
    retries = run.retry_policy
    if (
        current.type == StateType.RUNNING
        and state.type == StateType.FAILED
        and run.run_count <= retries.retries
    ):
        delay = retries.delay_for(run.run_count)
        retry = State(
            type=StateType.SCHEDULED, name="AwaitingRetry", message=state.message,
            scheduled_time=utcnow() + timedelta(seconds=delay),
        )  # fmt: skip
        return _answer(DecisionStatus.REJECT, retry, run.version, "retries left")
    return _answer(DecisionStatus.ACCEPT, state, run.version)


def _run_update(run_count: int, start_time: object, state: State) -> dict[str, object]:
    update: dict[str, object] = {"updated": utcnow()}
    if state.type == StateType.RUNNING:
        update["run_count"] = run_count + 1
        if start_time is None:
            update["start_time"] = state.timestamp
    if state.is_terminal:
        update["end_time"] = state.timestamp
    return update
