"""State types, named states and the proposal/decision contract (SPEC section 2).

Every package speaks these models: the engine proposes a `StateProposal`, the server's
orchestration policy answers with an `OrchestrationResult`.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stratoflow.schemas.common import MAX_MESSAGE_CHARS, UtcTime, cap_text, utcnow
from stratoflow.schemas.logs import MAX_LOG_BATCH, LogCreate


class StateType(StrEnum):
    """The nine state types a flow run or task run can be in."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    PAUSED = "PAUSED"

    @property
    def is_terminal(self) -> bool:
        """Whether no further transition is allowed out of this type."""
        return self in TERMINAL_STATE_TYPES


TERMINAL_STATE_TYPES: frozenset[StateType] = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
)


class StateName(StrEnum):
    """Every named state (SPEC 2). Code compares and builds names with these, never literals."""

    SCHEDULED = "Scheduled"
    LATE = "Late"
    AWAITING_RETRY = "AwaitingRetry"
    PENDING = "Pending"
    RUNNING = "Running"
    RETRYING = "Retrying"
    COMPLETED = "Completed"
    CACHED = "Cached"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    CRASHED = "Crashed"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    PAUSED = "Paused"


STATE_NAMES: dict[StateType, tuple[str, ...]] = {
    StateType.SCHEDULED: (StateName.SCHEDULED, StateName.LATE, StateName.AWAITING_RETRY),
    StateType.PENDING: (StateName.PENDING,),
    StateType.RUNNING: (StateName.RUNNING, StateName.RETRYING),
    StateType.COMPLETED: (StateName.COMPLETED, StateName.CACHED),
    StateType.FAILED: (StateName.FAILED, StateName.TIMED_OUT),
    StateType.CRASHED: (StateName.CRASHED,),
    StateType.CANCELLING: (StateName.CANCELLING,),
    StateType.CANCELLED: (StateName.CANCELLED,),
    StateType.PAUSED: (StateName.PAUSED,),
}
"""The named states of each type; the first name is the type's default."""


class ResultRef(BaseModel):
    """Where a persisted return value lives: never the value itself, only a reference."""

    model_config = ConfigDict(frozen=True)

    uri: str = Field(min_length=1, max_length=2048, description="file:// or s3:// location")
    serializer: str = Field(default="pickle", pattern=r"^(pickle|json)$")
    size: int | None = Field(default=None, ge=0)


class State(BaseModel):
    """A run's state: a type, one of the type's names, and what goes with it."""

    model_config = ConfigDict(frozen=True)

    type: StateType
    name: str = ""
    timestamp: UtcTime = Field(default_factory=utcnow)
    message: str | None = None
    scheduled_time: UtcTime | None = Field(
        default=None, description="for SCHEDULED states: when the run should start"
    )
    result: ResultRef | None = None
    cache_key: str | None = Field(default=None, max_length=1024)
    cache_expiration: UtcTime | None = None

    @field_validator("message")
    @classmethod
    def _cap_message(cls, value: str | None) -> str | None:
        return cap_text(value, MAX_MESSAGE_CHARS)

    @model_validator(mode="after")
    def _check_name(self) -> State:
        names = STATE_NAMES[self.type]
        if not self.name:
            object.__setattr__(self, "name", str(names[0]))
        elif self.name not in names:
            shown = tuple(str(name) for name in names)
            raise ValueError(f"state name {self.name!r} is not a {self.type} state ({shown})")
        else:
            object.__setattr__(self, "name", str(self.name))
        return self

    @property
    def is_terminal(self) -> bool:
        """Whether this state ends the run."""
        return self.type.is_terminal


class RetryPolicy(BaseModel):
    """A flow run's retry policy, recorded on the server so it can schedule retries."""

    model_config = ConfigDict(frozen=True)

    retries: int = Field(default=0, ge=0, le=100)
    retry_delay_seconds: list[float] = Field(default_factory=list, max_length=100)

    @field_validator("retry_delay_seconds")
    @classmethod
    def _non_negative(cls, value: list[float]) -> list[float]:
        if any(delay < 0 for delay in value):
            raise ValueError("retry delays must be >= 0")
        return value

    def delay_for(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based); the last delay repeats.

        The one retry arithmetic: flow-run retries (decided by the kernel) and task-run retries
        (decided by the engine) both use it.
        """
        if not self.retry_delay_seconds:
            return 0.0
        return self.retry_delay_seconds[min(max(attempt, 1), len(self.retry_delay_seconds)) - 1]

    def allows_another_attempt(self, run_count: int) -> bool:
        """Whether a run that has entered RUNNING `run_count` times may run again."""
        return run_count <= self.retries


class StateProposal(BaseModel):
    """A request to move a run to `state`, answered by the server's policy."""

    state: State
    expected_version: int | None = Field(
        default=None, ge=0, description="apply only if the run is still at this version (409)"
    )
    transition_id: UUID | None = Field(
        default=None, description="a retried proposal with the same id is answered like the first"
    )
    retry_policy: RetryPolicy | None = Field(
        default=None, description="flow runs: record this retry policy with the transition"
    )
    logs: list[LogCreate] = Field(
        default_factory=list,
        max_length=MAX_LOG_BATCH,
        description=(
            "log lines written with the proposal only if it is ACCEPTed (the engine's last"
            " lines, which name the state it proposed); otherwise none is written and the"
            " caller sends them itself (POST /logs)"
        ),
    )


class DecisionStatus(StrEnum):
    """How the server answered a proposal."""

    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    WAIT = "WAIT"
    ABORT = "ABORT"


class OrchestrationResult(BaseModel):
    """The server's answer to a proposal.

    ACCEPT: `state` is the proposed state, now the run's. REJECT: `state` is the state the run
    must take instead (already applied). WAIT: propose again after `delay_seconds`. ABORT: stop,
    `reason` says why; the run is unchanged.
    """

    status: DecisionStatus
    state: State | None = None
    version: int = Field(ge=0, description="the run's version after this answer")
    delay_seconds: float | None = None
    reason: str | None = None
