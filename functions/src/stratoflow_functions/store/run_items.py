"""Codecs between runs (flow and task) and their items, including every GSI key they carry.

Which index a run is in depends on its state, so the keys are recomputed on every write: the
work-queue index only while SCHEDULED, the heartbeat index only while PENDING, RUNNING or
CANCELLING, nothing but the listing indexes once finished (when the TTL also starts). Every
run-index partition is written over `Settings.index_shards` shards, the run's shard chosen
from its id (`keys.shard_of`), so no partition takes every run's writes.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from stratoflow.schemas import FlowRun, OrchestrationResult, StateType, TaskRun
from stratoflow_functions.store.items import FlowRunItem, RunItem, TaskRunItem
from stratoflow_functions.store.keys import (
    ALL_RUNS_PARTITION,
    deployment_runs_partition,
    expiry,
    flow_run_pk,
    flow_runs_partition,
    heartbeat_partition,
    parse_time,
    queue_partition,
    shard_of,
    sharded,
    state_runs_partition,
    stats_bucket,
    task_run_pk,
    task_runs_partition,
    time_key,
    timed,
)
from stratoflow_functions.store.models import Models
from stratoflow_functions.store.records import FlowRunRecord, TaskRunRecord

FLOW_RUN_SK = "FLOW_RUN"
TASK_RUN_SK = "TASK_RUN"
HEARTBEAT_STATES = frozenset({StateType.PENDING, StateType.RUNNING, StateType.CANCELLING})


def due_time(run: FlowRun) -> datetime:
    """When a SCHEDULED run should start: its scheduled time, else its expected start."""
    return run.state.scheduled_time or run.expected_start_time or run.created


def start_mark(run: FlowRun) -> datetime:
    """What the all-runs index and the run counters order a run by: its expected start, else
    its creation."""
    return run.expected_start_time or run.created


def heartbeat_mark(run: FlowRun) -> datetime:
    """The time heartbeat age counts from: the last heartbeat or entering the state, if later.

    Counting from the state's timestamp too keeps a run that just started from looking stale
    because of a heartbeat left over from an earlier attempt.
    """
    if run.heartbeat is None:
        return run.state.timestamp
    return max(run.heartbeat, run.state.timestamp)


def _gsi1(run: FlowRun, shard: int) -> tuple[str | None, str | None]:
    state_type = run.state.type
    if state_type == StateType.SCHEDULED and run.work_queue:
        return sharded(queue_partition(run.work_queue), shard), timed(due_time(run), run.id)
    if state_type in HEARTBEAT_STATES:
        partition = sharded(heartbeat_partition(state_type), shard)
        return partition, timed(heartbeat_mark(run), run.id)
    return None, None


def _finished_expiry(
    models: Models, end: datetime | None, state_time: datetime, done: bool
) -> int | None:
    if not done:
        return None
    return expiry(end or state_time, models.settings.run_retention_days)


def _optional(value: object | None) -> str | None:
    return None if value is None else str(value)


def flow_run_item(
    models: Models,
    run: FlowRun,
    transition_id: UUID | None = None,
    result: OrchestrationResult | None = None,
) -> FlowRunItem:
    """The item of `run`, with plain attributes for the stream and every index key it needs."""
    shard = shard_of(run.id, models.settings.index_shards)
    gsi1pk, gsi1sk = _gsi1(run, shard)
    created = timed(run.created, run.id)
    deployment = None if run.deployment_id is None else deployment_runs_partition(run.deployment_id)
    return models.flow_run(
        flow_run_pk(run.id),
        FLOW_RUN_SK,
        id=str(run.id),
        flow_id=str(run.flow_id),
        flow_name=run.flow_name,
        deployment_id=_optional(run.deployment_id),
        state_type=run.state.type.value,
        state_name=run.state.name,
        work_queue=run.work_queue,
        infrastructure=_optional(run.infrastructure and run.infrastructure.value),
        version=run.version,
        heartbeat=None if run.heartbeat is None else time_key(run.heartbeat),
        infrastructure_id=run.infrastructure_id,
        transition_id=_optional(transition_id),
        result=None if result is None else result.model_dump_json(),
        created=time_key(run.created),
        tags=set(run.tags) or None,
        stats_bucket=stats_bucket(start_mark(run)),
        data=run.model_dump_json(exclude={"heartbeat", "infrastructure_id"}),
        expires_at=_finished_expiry(
            models, run.end_time, run.state.timestamp, run.state.is_terminal
        ),
        gsi1pk=gsi1pk,
        gsi1sk=gsi1sk,
        gsi2pk=None if deployment is None else sharded(deployment, shard),
        gsi2sk=None if deployment is None else created,
        gsi3pk=sharded(flow_runs_partition(run.flow_id), shard),
        gsi3sk=created,
        gsi4pk=sharded(state_runs_partition(run.state.type.value), shard),
        gsi4sk=created,
        gsi5pk=sharded(ALL_RUNS_PARTITION, shard),
        gsi5sk=timed(start_mark(run), run.id),
    )


def flow_run_from_item(item: FlowRunItem) -> FlowRun:
    """The flow run stored in `item` (heartbeat fields come from their own attributes)."""
    run = FlowRun.model_validate_json(item.data or "{}")
    heartbeat = None if item.heartbeat is None else parse_time(item.heartbeat)
    return run.model_copy(
        update={"heartbeat": heartbeat, "infrastructure_id": item.infrastructure_id}
    )


def _result(item: RunItem) -> OrchestrationResult | None:
    return None if item.result is None else OrchestrationResult.model_validate_json(item.result)


def _transition(item: RunItem) -> UUID | None:
    return None if item.transition_id is None else UUID(item.transition_id)


def flow_run_record(item: FlowRunItem) -> FlowRunRecord:
    """The flow run of `item` with its last transition's bookkeeping."""
    return FlowRunRecord(flow_run_from_item(item), _transition(item), _result(item))


def task_run_item(
    models: Models,
    run: TaskRun,
    transition_id: UUID | None = None,
    result: OrchestrationResult | None = None,
    held_slots: tuple[str, ...] = (),
) -> TaskRunItem:
    """The item of a task run, listed under its flow run in creation order."""
    return models.task_run(
        task_run_pk(run.id),
        TASK_RUN_SK,
        id=str(run.id),
        flow_run_id=str(run.flow_run_id),
        state_type=run.state.type.value,
        state_name=run.state.name,
        version=run.version,
        transition_id=_optional(transition_id),
        result=None if result is None else result.model_dump_json(),
        held_slots=set(held_slots) or None,
        created=time_key(run.created),
        data=run.model_dump_json(),
        expires_at=_finished_expiry(
            models, run.end_time, run.state.timestamp, run.state.is_terminal
        ),
        gsi1pk=task_runs_partition(run.flow_run_id),
        gsi1sk=timed(run.created, run.id),
    )


def task_run_from_item(item: TaskRunItem) -> TaskRun:
    """The task run stored in `item`."""
    return TaskRun.model_validate_json(item.data or "{}")


def task_run_record(item: TaskRunItem) -> TaskRunRecord:
    """The task run of `item` with its bookkeeping and held slots (sorted, for stable output)."""
    slots = tuple(sorted(item.held_slots or ()))
    return TaskRunRecord(task_run_from_item(item), _transition(item), _result(item), slots)
