"""Flow runs, task runs, work-queue claims and agents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from stratoflow.schemas.common import Name, Tag, UtcTime
from stratoflow.schemas.flows import Deployment, InfrastructureType
from stratoflow.schemas.states import DecisionStatus, RetryPolicy, State, StateType


class FlowRunCreate(BaseModel):
    """Create a flow run directly (the SDK does this when a flow is called)."""

    flow_id: UUID
    name: str | None = Field(default=None, max_length=256)
    flow_version: str | None = Field(default=None, max_length=128)
    parameters: dict[str, Any] = Field(default_factory=dict)
    parent_task_run_id: UUID | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=512)
    state: State | None = Field(default=None, description="initial state; Pending if omitted")
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    tags: list[Tag] = Field(default_factory=list, max_length=32)


class DeploymentRunCreate(BaseModel):
    """Start a run of a deployment (`POST /deployments/{id}/runs`)."""

    parameters: dict[str, Any] = Field(
        default_factory=dict, description="merged over the deployment's parameters"
    )
    name: str | None = Field(default=None, max_length=256)
    scheduled_start_time: UtcTime | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=512)
    tags: list[Tag] = Field(default_factory=list, max_length=32)


class FlowRun(BaseModel):
    """A flow run as the API returns it."""

    id: UUID
    name: str
    flow_id: UUID
    flow_name: str | None = None
    flow_version: str | None = None
    deployment_id: UUID | None = None
    parent_task_run_id: UUID | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    state: State
    version: int = 0
    run_count: int = 0
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    resurrections: int = 0
    work_queue: str | None = None
    infrastructure: InfrastructureType | None = None
    idempotency_key: str | None = None
    tags: list[str] = Field(default_factory=list)
    expected_start_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    heartbeat: datetime | None = None
    agent_id: UUID | None = None
    infrastructure_id: str | None = Field(
        default=None, description="what runs it: a pid, a container id, a task ARN, a job name"
    )
    concurrency_slots: list[str] = Field(
        default_factory=list,
        description="the work-queue and deployment concurrency slots this run holds while active",
    )
    created: datetime
    updated: datetime


class FlowRunSort(StrEnum):
    """Orders of `GET /flow-runs`."""

    CREATED = "created"
    """Newest created first."""
    EXPECTED_START = "expected_start"
    """Latest expected start (else creation) first."""
    EXPECTED_START_ASC = "expected_start_asc"
    """Earliest expected start first (upcoming runs)."""


class FlowRunFilter(BaseModel):
    """Query parameters of `GET /flow-runs`."""

    state: StateType | None = None
    flow_id: UUID | None = None
    deployment_id: UUID | None = None
    created_after: UtcTime | None = None
    created_before: UtcTime | None = None
    expected_start_after: UtcTime | None = Field(
        default=None, description="expected start (else creation) at or after this time"
    )
    expected_start_before: UtcTime | None = Field(
        default=None, description="expected start (else creation) at or before this time"
    )
    tags: list[Tag] | None = Field(default=None, max_length=32, description="any of these tags")
    sort: FlowRunSort | None = Field(
        default=None,
        description="order; default `created` with a state, flow or deployment filter and no "
        "expected-start bound, else `expected_start`",
    )


class TaskRunCreate(BaseModel):
    """Create a task run; the id may be chosen by the client so records can be batched.

    Creating a task run whose id exists already returns the existing run (idempotent).
    """

    id: UUID | None = None
    flow_run_id: UUID
    task_key: str = Field(min_length=1, max_length=256, description="identifies the task function")
    dynamic_key: str = Field(default="0", max_length=64, description="which call of the task")
    name: str = Field(min_length=1, max_length=256)
    cache_key: str | None = Field(default=None, max_length=1024)
    tags: list[Tag] = Field(default_factory=list, max_length=32)
    state: State | None = Field(default=None, description="initial state; Pending if omitted")


class TaskRun(BaseModel):
    """A task run as the API returns it."""

    id: UUID
    flow_run_id: UUID
    task_key: str
    dynamic_key: str = "0"
    name: str
    cache_key: str | None = None
    tags: list[str] = Field(default_factory=list)
    state: State
    version: int = 0
    run_count: int = 0
    subflow_run_id: UUID | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    created: datetime
    updated: datetime


class TaskRunBatchItem(BaseModel):
    """One task run in a batch: created if new, then each state proposed in order."""

    task_run: TaskRunCreate
    states: list[State] = Field(default_factory=list, max_length=16)


class TaskRunBatch(BaseModel):
    """Task-run records sent off the engine's hot path (`POST /task-runs/batch`).

    Only states the engine may apply without waiting for an answer belong here; anything a rule
    could answer with WAIT, REJECT or ABORT (tags with limits, cache keys, RUNNING of a flow that
    may be cancelled) goes through `POST /task-runs/{id}/state`.
    """

    items: list[TaskRunBatchItem] = Field(min_length=1, max_length=500)

    def __repr__(self) -> str:
        # Kept short: frameworks log request arguments, and 500 items would print (and cost) a lot.
        return f"TaskRunBatch(<{len(self.items)} items>)"


class TaskRunBatchResult(BaseModel):
    """The outcome for one task run of a batch."""

    task_run_id: UUID
    status: DecisionStatus
    state: State
    version: int


class TaskRunBatchResponse(BaseModel):
    """One result per item, in the order sent."""

    results: list[TaskRunBatchResult]


class ClaimRequest(BaseModel):
    """An agent asking for due runs of a work queue (`POST /work-queues/{name}/claim`)."""

    agent_id: UUID
    limit: int = Field(default=1, ge=1, le=50)
    infrastructure: list[InfrastructureType] | None = Field(
        default=None, description="only runs for these infrastructure types"
    )
    due_before: UtcTime | None = Field(
        default=None,
        description="also runs due before this time (at most 60 s ahead of the server's "
        "clock; 422 invalid_due_before beyond): an agent's prefetch window. Such a run is "
        "claimed PENDING early; its process waits for its expected start before RUNNING",
    )


class ClaimedRun(BaseModel):
    """A run moved SCHEDULED → PENDING for this agent, with what is needed to launch it."""

    flow_run: FlowRun
    deployment: Deployment | None = None


class ClaimResponse(BaseModel):
    """The runs this claim won; a run another agent won is never included."""

    runs: list[ClaimedRun]


class WorkQueueUpdate(BaseModel):
    """Settings of a work queue (`PUT /work-queues/{name}`)."""

    concurrency_limit: int | None = Field(default=None, ge=1, le=100_000)
    paused: bool = False


class WorkQueue(WorkQueueUpdate):
    """A work queue; created implicitly by the first deployment or claim that names it."""

    name: Name
    created: datetime


class AgentHeartbeat(BaseModel):
    """An agent saying it is alive (`POST /agents/{id}/heartbeat`)."""

    name: str = Field(default="agent", max_length=128)
    type: InfrastructureType = InfrastructureType.LOCAL
    work_queue: Name = "default"


class Agent(AgentHeartbeat):
    """An agent as last seen."""

    id: UUID
    last_heartbeat: datetime


class FlowRunHeartbeat(BaseModel):
    """A running flow saying it is alive (`POST /flow-runs/{id}/heartbeat`)."""

    infrastructure_id: str | None = Field(default=None, max_length=512)


class ConcurrencyLimitUpdate(BaseModel):
    """Set the limit of a tag (`PUT /concurrency-limits/{tag}`)."""

    limit: int = Field(ge=0, le=100_000)


class ConcurrencyLimit(ConcurrencyLimitUpdate):
    """How many task runs with a tag may be RUNNING at once, and which hold a slot."""

    tag: str
    active_slots: list[UUID] = Field(default_factory=list)
    created: datetime


class StatsBucket(BaseModel):
    """Runs whose expected start (else creation) falls in one bucket, by state type."""

    start: datetime
    by_state: dict[StateType, int]


class FlowRunStats(BaseModel):
    """Exact run counts by state type, in total and per time bucket (`GET /flow-runs/stats`)."""

    after: datetime
    before: datetime
    bucket_seconds: int
    by_state: dict[StateType, int]
    buckets: list[StatsBucket]


__all__ = [
    "Agent",
    "AgentHeartbeat",
    "ClaimRequest",
    "ClaimResponse",
    "ClaimedRun",
    "ConcurrencyLimit",
    "ConcurrencyLimitUpdate",
    "DeploymentRunCreate",
    "FlowRun",
    "FlowRunCreate",
    "FlowRunFilter",
    "FlowRunHeartbeat",
    "FlowRunSort",
    "FlowRunStats",
    "StatsBucket",
    "TaskRun",
    "TaskRunBatch",
    "TaskRunBatchItem",
    "TaskRunBatchResponse",
    "TaskRunBatchResult",
    "TaskRunCreate",
    "WorkQueue",
    "WorkQueueUpdate",
]
