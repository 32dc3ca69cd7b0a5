"""Task-run records: created one at a time, or in batches off the engine's hot path.

A batch item is created if new, then each of its states goes through the same task-run policy
in memory; the run is written once, in its final state. States a rule would answer with WAIT,
REJECT or ABORT stop that item where it is, and the engine learns it from the result.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from stratoflow.orchestration import plan_task_run
from stratoflow.schemas import (
    DecisionStatus,
    FlowRun,
    State,
    StateType,
    TaskRun,
    TaskRunBatch,
    TaskRunBatchItem,
    TaskRunBatchResponse,
    TaskRunBatchResult,
    TaskRunCreate,
)
from stratoflow_functions.errors import NotFoundError, UnprocessableError
from stratoflow_functions.services.task_run_states import remember_cached_result
from stratoflow_functions.store import Store

MAX_CLOCK_AHEAD = timedelta(minutes=5)
"""How far in the future an engine's state time may be before the server's clock replaces it."""


def new_task_run(data: TaskRunCreate, now: datetime) -> TaskRun:
    """The record for a task run about to be created."""
    return TaskRun(
        id=data.id or uuid4(),
        flow_run_id=data.flow_run_id,
        task_key=data.task_key,
        dynamic_key=data.dynamic_key,
        name=data.name,
        cache_key=data.cache_key,
        tags=data.tags,
        state=data.state or State(type=StateType.PENDING, timestamp=now),
        created=now,
        updated=now,
    )


def create_task_run(store: Store, data: TaskRunCreate, now: datetime) -> tuple[TaskRun, bool]:
    """Create a task run of an existing flow run; an existing id returns the stored run."""
    store.flow_runs.get(data.flow_run_id)
    return store.task_runs.create(new_task_run(data, now))


def record_batch(store: Store, batch: TaskRunBatch, now: datetime) -> TaskRunBatchResponse:
    """Apply a batch of task-run records with one write per task run.

    Items are applied in order; a task run named by several items continues from where the
    earlier item left it, and is written once, in its final state.
    """
    flow_runs = _flow_runs_of(store, batch)
    limited = _limited_tags(store, batch)
    stored = store.task_runs.get_many([_batch_id(item) for item in batch.items])
    current: dict[UUID, TaskRun] = dict(stored)
    changed: dict[UUID, TaskRun] = {}
    results: list[TaskRunBatchResult] = []
    for item in batch.items:
        flow_run = flow_runs[item.task_run.flow_run_id]
        start = current.get(_batch_id(item)) or _new_batched(item.task_run, flow_run, now)
        if limited.intersection(start.tags):
            final, status = _hold_limited(start, item.states, flow_run, now)
        else:
            final, status = _fold_states(start, item.states, flow_run, now)
        results.append(
            TaskRunBatchResult(
                task_run_id=final.id, status=status, state=final.state, version=final.version
            )
        )
        current[final.id] = final
        if final.version != start.version or final.id not in stored:
            changed[final.id] = final
    finals = list(changed.values())
    store.task_runs.put_many(finals, new_ids=frozenset(changed.keys() - stored.keys()))
    for run in finals:
        remember_cached_result(store, run)
    return TaskRunBatchResponse(results=results)


def _flow_runs_of(store: Store, batch: TaskRunBatch) -> dict[UUID, FlowRun]:
    ids = {item.task_run.flow_run_id for item in batch.items}
    runs: dict[UUID, FlowRun] = {}
    for flow_run_id in ids:
        try:
            runs[flow_run_id] = store.flow_runs.get(flow_run_id).run
        except NotFoundError as exc:
            raise UnprocessableError(
                f"flow run {flow_run_id} does not exist", code="unknown_flow_run"
            ) from exc
    return runs


def _limited_tags(store: Store, batch: TaskRunBatch) -> set[str]:
    """The batch's tags that have a concurrency limit (one read for all of them)."""
    tags = sorted({tag for item in batch.items for tag in item.task_run.tags})
    return {limit.tag for limit in store.concurrency.for_tags(tags)} if tags else set()


def _hold_limited(
    run: TaskRun, states: list[State], flow_run: FlowRun, now: datetime
) -> tuple[TaskRun, DecisionStatus]:
    """Apply states up to RUNNING: slots are only taken on the synchronous path, so a run of
    a limited tag stops before RUNNING with WAIT (propose it with `POST /task-runs/{id}/state`)."""
    before_running: list[State] = []
    for state in states:
        if state.type is StateType.RUNNING:
            folded, status = _fold_states(run, before_running, flow_run, now)
            return folded, DecisionStatus.WAIT if status is DecisionStatus.ACCEPT else status
        before_running.append(state)
    return _fold_states(run, before_running, flow_run, now)


def _new_batched(data: TaskRunCreate, flow_run: FlowRun, now: datetime) -> TaskRun:
    """A new task run of a batch, its initial state at the engine's (bounded) time."""
    run = new_task_run(data, now)
    at = bounded_time(run.state.timestamp, flow_run, now)
    return run.model_copy(update={"state": run.state.model_copy(update={"timestamp": at})})


def _batch_id(item: TaskRunBatchItem) -> UUID:
    if item.task_run.id is None:
        raise UnprocessableError("batched task runs need a client-chosen id", code="missing_id")
    return item.task_run.id


def engine_time(state: State, run: TaskRun, flow_run: FlowRun, now: datetime) -> datetime:
    """When the engine saw `state`, bounded: a time more than `MAX_CLOCK_AHEAD` ahead of the
    server is the server's now; none is before the flow run was created, nor before the task
    run's current state (so a run's times never go backwards)."""
    return max(bounded_time(state.timestamp, flow_run, now), run.state.timestamp)


def bounded_time(seen: datetime, flow_run: FlowRun, now: datetime) -> datetime:
    """An engine's time: now if it is more than `MAX_CLOCK_AHEAD` ahead of the server's clock,
    else no earlier than the flow run's creation."""
    return now if seen > now + MAX_CLOCK_AHEAD else max(seen, flow_run.created)


def _fold_states(
    run: TaskRun, states: list[State], flow_run: FlowRun, now: datetime
) -> tuple[TaskRun, DecisionStatus]:
    """Apply `states` in order, each at the time the engine saw it (`engine_time`): the run's
    `start_time`, `end_time` and state timestamps are the engine's; `updated` is the server's."""
    status = DecisionStatus.ACCEPT
    for state in states:
        at = engine_time(state, run, flow_run, now)
        stamped = state if at == state.timestamp else state.model_copy(update={"timestamp": at})
        plan = plan_task_run(run, stamped, at, flow_run_state=flow_run.state)
        status = plan.decision.status
        if plan.run is None or status is not DecisionStatus.ACCEPT:
            return run, status
        run = plan.run.model_copy(update={"updated": now})
    return run, status
