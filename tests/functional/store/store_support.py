"""Plain helpers for the store's functional tests: runs with defaults and a settable clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

import boto3

from stratoflow.orchestration import Decision, Plan, plan_task_run
from stratoflow.schemas import (
    DecisionStatus,
    FlowRun,
    InfrastructureType,
    OrchestrationResult,
    State,
    StateType,
    TaskRun,
)
from stratoflow_functions.config import Settings
from stratoflow_functions.store import Store

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = field(default=T0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_run(**fields: Any) -> FlowRun:
    """A flow run with sensible defaults; `fields` override them."""
    at = fields.pop("at", T0)
    values: dict[str, Any] = {
        "id": uuid4(),
        "name": "calm-otter",
        "flow_id": uuid4(),
        "flow_name": "etl",
        "state": State(type=StateType.PENDING, timestamp=at),
        "created": at,
        "updated": at,
    }
    values.update(fields)
    return FlowRun(**values)


def scheduled_run(
    when: datetime,
    work_queue: str = "default",
    infrastructure: InfrastructureType = InfrastructureType.LOCAL,
    **fields: Any,
) -> FlowRun:
    """A SCHEDULED run of a deployment, due at `when`."""
    state = State(type=StateType.SCHEDULED, timestamp=T0, scheduled_time=when)
    return make_run(
        state=state,
        work_queue=work_queue,
        infrastructure=infrastructure,
        deployment_id=fields.pop("deployment_id", uuid4()),
        expected_start_time=when,
        **fields,
    )


def moved(run: FlowRun, state_type: StateType, at: datetime, **fields: Any) -> FlowRun:
    """`run` after one accepted transition to `state_type` at `at`."""
    update = {"state": State(type=state_type, timestamp=at), "version": run.version + 1}
    update.update(fields)
    return run.model_copy(update=update)


def make_task_run(flow_run_id: UUID, at: datetime = T0, **fields: Any) -> TaskRun:
    """A PENDING task run of `flow_run_id` created at `at`."""
    values: dict[str, Any] = {
        "id": uuid4(),
        "flow_run_id": flow_run_id,
        "task_key": "extract",
        "name": "extract-0",
        "state": State(type=StateType.PENDING, timestamp=at),
        "created": at,
        "updated": at,
    }
    values.update(fields)
    return TaskRun(**values)


def running_task(store: Store, tags: list[str], at: datetime = T0) -> TaskRun:
    """A stored PENDING task run with `tags`, of a stored RUNNING flow run."""
    flow_run = make_run(state=State(type=StateType.RUNNING, timestamp=at), at=at)
    store.flow_runs.create(flow_run)
    task = make_task_run(flow_run.id, at, tags=tags)
    store.task_runs.create(task)
    return task


def plan_for(
    store: Store, task_run_id: UUID, state_type: StateType, now: datetime
) -> Plan[TaskRun]:
    """The kernel's plan for proposing `state_type`, with the limits as the store reads them now."""
    record = store.task_runs.get(task_run_id)
    run = record.run
    return plan_task_run(
        run,
        State(type=state_type, timestamp=now),
        now,
        held=record.held_slots,
        flow_run_state=State(type=StateType.RUNNING, timestamp=now),
        tag_slots=store.concurrency.slots(run.tags, run.id, now),
        lease_seconds=store.concurrency.lease_seconds,
    )


def take_slots(store: Store, tags: list[str], now: datetime = T0) -> TaskRun:
    """A new task run of a new flow run, RUNNING and holding a slot of each of `tags`."""
    task = running_task(store, tags, now)
    assert store.task_runs.apply(plan_for(store, task.id, StateType.RUNNING, now))
    return task


RunT = TypeVar("RunT", FlowRun, TaskRun)


class _Applies(Protocol[RunT]):
    def apply(
        self,
        plan: Plan[RunT],
        *,
        transition_id: UUID | None = None,
        result: OrchestrationResult | None = None,
    ) -> bool: ...


def save(
    runs: _Applies[RunT],
    run: RunT,
    *,
    expected_version: int,
    transition_id: UUID | None = None,
    result: OrchestrationResult | None = None,
    held_slots: tuple[str, ...] = (),
) -> None:
    """Write `run` whole at `expected_version` the one way the store writes runs: as a plan
    (here one that takes and gives back no slot, so a single conditional put)."""
    current = run.model_copy(update={"version": expected_version})
    decision = Decision(status=DecisionStatus.ACCEPT, state=run.state)
    plan = Plan(decision=decision, current=current, run=run, holds=held_slots)
    assert runs.apply(plan, transition_id=transition_id, result=result)


def stream_records(settings: Settings) -> list[dict[str, Any]]:
    """Every record of the table's stream so far (moto's, in process), in order per shard."""
    dynamodb = boto3.client("dynamodb", region_name=settings.region)
    streams = boto3.client("dynamodbstreams", region_name=settings.region)
    arn = dynamodb.describe_table(TableName=settings.table_name)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not answer["Records"]:
                break
            records += answer["Records"]
            iterator = answer.get("NextShardIterator")
    return records


def flow_run_records(settings: Settings) -> list[dict[str, Any]]:
    """Every flow-run record on the table's stream so far, in order."""
    return [
        r
        for r in stream_records(settings)
        if r["dynamodb"].get("NewImage", {}).get("entity") == {"S": "flow_run"}
    ]
