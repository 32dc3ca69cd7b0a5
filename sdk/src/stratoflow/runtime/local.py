"""The offline orchestrator: what flows talk to when no API is configured.

It decides nothing itself. Every proposal, and every cancel request, goes through the
orchestration kernel (`stratoflow.orchestration`), proposed as `Proposer.CLIENT`:
`plan_flow_run`, `plan_task_run` and `cancel_target`. The `Plan` that comes back is applied to
memory under one lock, as the control plane's store applies it in one transaction: the run as
planned (its state, and the counters and times of the kernel's bookkeeping, one version
later), the concurrency-slot leases to take and give back, the cache entry a completed task
run feeds (`cache_entry`), the task runs a flow run's ended attempt leaves open (`attempts`),
and the stored answer that a repeated `transition_id` gets again. So an offline run records
the same state history as a run recorded by the API; `tests/sdk/test_offline_parity.py` runs
the same generated flows both ways and compares them.

Only two things are the orchestrator's own, and neither is a rule. Its clock is injectable
(`utcnow` by default). And the pacing of WAIT answers: the kernel's delays
(`TAG_SLOT_WAIT_SECONDS`, `FLOW_NOT_RUNNING_WAIT_SECONDS`, the time left before a scheduled
run is due) are answered multiplied by `wait_scale`, 1.0 (the server's pacing) by default. A
WAIT writes nothing, so the factor changes how soon the engine proposes again, never what
happens; tests pass a small one so a tag-limited flow does not sleep 5 s per retry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

from stratoflow.orchestration import (
    DEFAULT_LEASE_SECONDS,
    Plan,
    Proposer,
    TagSlots,
    cache_entry,
    cancel_target,
    left_over_task_state,
    plan_flow_run,
    plan_task_run,
    starts_later_attempt,
)
from stratoflow.orchestration.attempts import closes_left_over_task_runs
from stratoflow.runtime.local_store import ResultCache, SlotLeases
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
    TaskRunBatchItem,
    TaskRunBatchResponse,
    TaskRunBatchResult,
    TaskRunCreate,
    utcnow,
)

Clock = Callable[[], datetime]


class UnknownRunError(KeyError):
    """An id (of a flow or a run) the local orchestrator has never seen."""


class StaleVersionError(RuntimeError):
    """A proposal's `expected_version` is not the run's version (the API answers 409)."""


class LocalOrchestrator:
    """Flow runs, task runs, logs, slot leases and a result cache, in memory (thread-safe).

    Args:
        cache_dir: where to keep the cache index (one JSON file per cache key); in memory if None.
        clock: the time of every plan and record.
        wait_scale: the factor applied to the delay of every WAIT answer (see the module doc).
        lease_seconds: how long a concurrency slot stays held without a heartbeat renewing it.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        clock: Clock = utcnow,
        wait_scale: float = 1.0,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self.wait_scale = wait_scale
        self.lease_seconds = lease_seconds
        self.flows: dict[str, Flow] = {}
        self.flow_runs: dict[UUID, FlowRun] = {}
        self.task_runs: dict[UUID, TaskRun] = {}
        self.logs: list[LogCreate] = []
        self.flow_run_states: dict[UUID, list[State]] = {}
        self.task_run_states: dict[UUID, list[State]] = {}
        self.concurrency_limits: dict[str, int] = {}
        """Tag → limit: what `PUT /concurrency-limits/{tag}` sets on the server."""
        self.slots = SlotLeases()
        self._held: dict[UUID, tuple[str, ...]] = {}
        self._task_runs_of: dict[UUID, list[UUID]] = {}
        self._replays: dict[UUID, tuple[UUID, OrchestrationResult]] = {}
        self._keyed: dict[tuple[UUID, str], UUID] = {}
        self._cache = ResultCache(cache_dir)

    # --- flows and flow runs -----------------------------------------------------------------

    def create_flow(self, body: FlowCreate) -> Flow:
        """Register a flow by name (idempotent)."""
        with self._lock:
            if body.name not in self.flows:
                flow = Flow(id=uuid4(), created=self._clock(), **body.model_dump())
                self.flows[body.name] = flow
            return self.flows[body.name]

    def create_flow_run(self, body: FlowRunCreate) -> FlowRun:
        """Create a flow run in its initial state (Pending unless given); a repeated
        idempotency key (per flow) returns the first run, as the API does."""
        with self._lock:
            flow = self._flow(body.flow_id)
            key = (flow.id, body.idempotency_key) if body.idempotency_key else None
            if key is not None and key in self._keyed:
                return self.flow_runs[self._keyed[key]]
            run = self._new_flow_run(flow, body, self._clock())
            self.flow_runs[run.id] = run
            self.flow_run_states[run.id] = [run.state]
            if key is not None:
                self._keyed[key] = run.id
            self._link_subflow(run)
            return run

    def _flow(self, flow_id: UUID) -> Flow:
        for flow in self.flows.values():
            if flow.id == flow_id:
                return flow
        raise UnknownRunError(f"flow {flow_id} not found")

    @staticmethod
    def _new_flow_run(flow: Flow, body: FlowRunCreate, now: datetime) -> FlowRun:
        """The new run; a RUNNING initial state is planned over PENDING, as the API does."""
        proposed = body.state if body.state and body.state.type == StateType.RUNNING else None
        state = (None if proposed else body.state) or State(type=StateType.PENDING, timestamp=now)
        data = body.model_dump(exclude={"state", "name", "flow_id"})
        run = FlowRun(
            id=uuid4(), name=body.name or f"{flow.name}-{now:%H%M%S%f}", flow_id=flow.id,
            flow_name=flow.name, state=state, expected_start_time=state.scheduled_time or now,
            created=now, updated=now, **data,
        )  # fmt: skip
        if proposed is None:
            return run
        plan = plan_flow_run(run, proposed.model_copy(update={"timestamp": now}), now)
        accepted = plan.decision.status == DecisionStatus.ACCEPT
        if plan.run is None or not accepted or plan.take:
            return run
        return plan.run.model_copy(update={"version": run.version})  # created at its first

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
        """Plan a flow-run proposal with the kernel and apply the plan.

        Raises:
            UnknownRunError: no such flow run.
            StaleVersionError: the proposal's `expected_version` is not the run's.
        """
        with self._lock:
            run = self._flow_run(flow_run_id)
            replayed = self._replayed(run.id, run.version, proposal)
            if replayed is not None:
                return replayed
            now = self._clock()
            plan = plan_flow_run(
                run, proposal.state, now, proposer=Proposer.CLIENT,
                retry_policy=proposal.retry_policy,
            )  # fmt: skip
            result = self._apply_flow_plan(plan, proposal.transition_id, now)
            if result.status is DecisionStatus.ACCEPT:  # the lines ride on an accept only
                self.logs.extend(proposal.logs)
            return result

    def heartbeat_flow_run(
        self, flow_run_id: UUID, body: FlowRunHeartbeat | None = None
    ) -> FlowRun:
        """Record a heartbeat, renew the run's slot leases and its task runs', and answer with
        the run (its state may be CANCELLING)."""
        with self._lock:
            now = self._clock()
            update: dict[str, object] = {"heartbeat": now}
            if body is not None and body.infrastructure_id is not None:
                update["infrastructure_id"] = body.infrastructure_id
            run = self._flow_run(flow_run_id).model_copy(update=update)
            self.flow_runs[flow_run_id] = run
            self._renew_leases(run, now)
            return run

    def cancel_flow_run(self, flow_run_id: UUID) -> OrchestrationResult:
        """Propose what the kernel's `cancel_target` names, planned like any proposal: a run
        not started ends CANCELLED, a running one becomes CANCELLING, a CANCELLING one stays
        as it is, and a finished one is refused (ABORT)."""
        with self._lock:
            run = self._flow_run(flow_run_id)
            now = self._clock()
            target = cancel_target(run.state, now)
            if target is None:
                return OrchestrationResult(
                    status=DecisionStatus.ACCEPT, state=run.state, version=run.version
                )
            return self._apply_flow_plan(plan_flow_run(run, target, now), None, now)

    def _apply_flow_plan(
        self, plan: Plan[FlowRun], transition_id: UUID | None, now: datetime
    ) -> OrchestrationResult:
        before, after = plan.current, plan.run
        if after is None:
            return self._answer(plan)
        if starts_later_attempt(before.state, after.state, before.run_count):
            self._close_left_overs(before.id, after.state, now)  # before the new attempt starts
        self.slots.apply(plan.take, plan.give_back)
        self.flow_runs[after.id] = after
        self.flow_run_states[after.id].append(after.state)
        answer = self._remember(after.id, transition_id, plan)
        if closes_left_over_task_runs(before.state, after.state):
            self._close_left_overs(after.id, after.state, now)
        return answer

    def _close_left_overs(self, flow_run_id: UUID, flow_state: State, now: datetime) -> None:
        """Propose the kernel's left-over state for every task run of the flow run still open."""
        state = left_over_task_state(flow_state, now)
        for task_run_id in self._task_runs_of.get(flow_run_id, []):
            task_run = self.task_runs[task_run_id]
            if not task_run.state.is_terminal:
                self._propose_task(task_run, state, now)

    def _renew_leases(self, run: FlowRun, now: datetime) -> None:
        expires = now + timedelta(seconds=self.lease_seconds)
        self.slots.renew(run.id, run.concurrency_slots, now, expires)
        for task_run_id in self._task_runs_of.get(run.id, []):
            self.slots.renew(task_run_id, self._held.get(task_run_id, ()), now, expires)

    # --- task runs ----------------------------------------------------------------------------

    def create_task_run(self, body: TaskRunCreate) -> TaskRun:
        """Create a task run; a known client-chosen id returns the existing run."""
        with self._lock:
            return self._create_task_run(body, self._clock())

    def _create_task_run(self, body: TaskRunCreate, now: datetime) -> TaskRun:
        if body.id is not None and body.id in self.task_runs:
            return self.task_runs[body.id]
        self._flow_run(body.flow_run_id)
        state = body.state or State(type=StateType.PENDING, timestamp=now)
        data = body.model_dump(exclude={"state", "id"})
        run = TaskRun(id=body.id or uuid4(), state=state, created=now, updated=now, **data)
        self.task_runs[run.id] = run
        self.task_run_states[run.id] = [state]
        self._task_runs_of.setdefault(run.flow_run_id, []).append(run.id)
        return run

    def _task_run(self, task_run_id: UUID) -> TaskRun:
        try:
            return self.task_runs[task_run_id]
        except KeyError:
            raise UnknownRunError(f"task run {task_run_id} not found") from None

    def set_task_run_state(self, task_run_id: UUID, proposal: StateProposal) -> OrchestrationResult:
        """Plan a task-run proposal with the kernel and apply the plan.

        Raises:
            UnknownRunError: no such task run.
            StaleVersionError: the proposal's `expected_version` is not the run's.
        """
        with self._lock:
            run = self._task_run(task_run_id)
            replayed = self._replayed(run.id, run.version, proposal)
            if replayed is not None:
                return replayed
            plan = self._propose_task(run, proposal.state, self._clock())
            return self._remember(run.id, proposal.transition_id, plan)

    def create_task_runs_batch(self, body: TaskRunBatch) -> TaskRunBatchResponse:
        """Per item: create its task run if new, then propose its states in order, stopping at
        the first answer that is not ACCEPT (the engine learns it from the result)."""
        with self._lock:
            now = self._clock()
            results = [self._batch_item(item, now) for item in body.items]
            return TaskRunBatchResponse(results=results)

    def _batch_item(self, item: TaskRunBatchItem, now: datetime) -> TaskRunBatchResult:
        run_id = self._create_task_run(item.task_run, now).id
        status = DecisionStatus.ACCEPT
        for state in item.states:
            status = self._propose_task(self.task_runs[run_id], state, now).decision.status
            if status is not DecisionStatus.ACCEPT:
                break
        current = self.task_runs[run_id]
        return TaskRunBatchResult(
            task_run_id=run_id, status=status, state=current.state, version=current.version
        )

    def _propose_task(self, run: TaskRun, proposed: State, now: datetime) -> Plan[TaskRun]:
        """Plan a task-run proposal with the kernel and apply the plan; returns the plan."""
        # What the task rules read; they look at it for RUNNING proposals only.
        plan = plan_task_run(
            run, proposed, now, held=self._held.get(run.id, ()),
            flow_run_state=self.flow_runs[run.flow_run_id].state,
            tag_slots=self._tag_slots(run, now),
            cached=self._cache.get(proposed.cache_key or run.cache_key),
            proposer=Proposer.CLIENT, lease_seconds=self.lease_seconds,
        )  # fmt: skip
        self._apply_task_plan(plan)
        return plan

    def _tag_slots(self, run: TaskRun, now: datetime) -> tuple[TagSlots, ...]:
        limited = [tag for tag in dict.fromkeys(run.tags) if tag in self.concurrency_limits]
        return tuple(
            self.slots.slots(tag, self.concurrency_limits[tag], run.id, now) for tag in limited
        )

    def _apply_task_plan(self, plan: Plan[TaskRun]) -> None:
        updated = plan.run
        if updated is None:
            return
        self.slots.apply(plan.take, plan.give_back)
        self._held[updated.id] = plan.holds
        self.task_runs[updated.id] = updated
        self.task_run_states[updated.id].append(updated.state)
        entry = cache_entry(updated)
        if entry is not None:
            self._cache.put(*entry)

    # --- answers ------------------------------------------------------------------------------

    def _replayed(
        self, run_id: UUID, version: int, proposal: StateProposal
    ) -> OrchestrationResult | None:
        """The stored answer of a repeated transition; else None, once the version is checked."""
        last = self._replays.get(run_id)
        if last is not None and proposal.transition_id == last[0]:
            return last[1]
        expected = proposal.expected_version
        if expected is not None and expected != version:
            raise StaleVersionError(f"the run is at version {version}, not {expected}")
        return None

    def _remember(
        self, run_id: UUID, transition_id: UUID | None, plan: Plan[FlowRun] | Plan[TaskRun]
    ) -> OrchestrationResult:
        """The plan's answer, kept for a replay of the transition when the plan wrote."""
        answer = self._answer(plan)
        if transition_id is not None and plan.writes:
            self._replays[run_id] = (transition_id, answer)
        return answer

    def _answer(self, plan: Plan[FlowRun] | Plan[TaskRun]) -> OrchestrationResult:
        answer = plan.answer()
        if answer.status is DecisionStatus.WAIT and answer.delay_seconds is not None:
            delay = answer.delay_seconds * self.wait_scale
            return answer.model_copy(update={"delay_seconds": delay})
        return answer

    # --- logs ---------------------------------------------------------------------------------

    def write_logs(self, logs: Sequence[LogCreate]) -> LogsWritten:
        """Keep log lines in memory (offline runs print them to the console too)."""
        with self._lock:
            self.logs.extend(logs)
            return LogsWritten(count=len(logs))


__all__ = ["LocalOrchestrator", "StaleVersionError", "UnknownRunError"]
