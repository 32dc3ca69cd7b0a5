"""What an orchestration rule sees and what it answers. Pure data: no I/O anywhere here.

The service layer reads everything a proposal needs (the run, its parent flow run, tag slots,
a cache entry) into a `ProposalContext`, asks a policy for a `Decision`, then persists the
decision with one conditional write. Rules never query anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from stratoflow.schemas import DecisionStatus, RetryPolicy, State


class RunKind(StrEnum):
    """Flow runs and task runs follow different policies."""

    FLOW = "flow"
    TASK = "task"


@dataclass(frozen=True)
class RunView:
    """The parts of a run that rules look at."""

    kind: RunKind
    state: State | None
    version: int = 0
    run_count: int = 0
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    resurrections: int = 0
    on_work_queue: bool = False
    """Flow runs only: whether the run is on a work queue, so someone can claim another
    attempt (a deployment's run); a flow called directly is not."""


@dataclass(frozen=True)
class TagSlots:
    """The concurrency limit of one tag as read just before deciding."""

    tag: str
    limit: int
    active: int
    holds_slot: bool = False
    """True when this task run already holds one of the tag's slots."""

    @property
    def available(self) -> bool:
        """Whether this run may hold a slot now."""
        return self.holds_slot or self.active < self.limit


@dataclass(frozen=True)
class ProposalContext:
    """Everything a rule may look at to answer one proposal."""

    run: RunView
    proposed: State
    now: datetime
    flow_run_state: State | None = None
    """Task runs only: the state of the flow run the task belongs to."""
    tag_slots: tuple[TagSlots, ...] = ()
    """Task runs only: limits of the run's tags that have one."""
    cached: State | None = None
    """Task runs proposing RUNNING with a cache key: an unexpired COMPLETED state for that key."""
    from_server: bool = False
    """True when the proposal comes from the control plane itself (a Towel service, a retry the
    server schedules), not from a client."""


@dataclass(frozen=True)
class Decision:
    """A policy's answer, before it is persisted."""

    status: DecisionStatus
    state: State | None = None
    """ACCEPT: the state to apply (the proposal, possibly completed by the rules). REJECT: the
    state the run must take instead; None when the run keeps its current state."""
    delay_seconds: float | None = None
    reason: str | None = None
    acquire_slots: tuple[str, ...] = ()
    """Tags whose slot the service must take (conditionally) when it applies the decision."""
    release_slots: bool = False
    """Whether the run gives back every slot it holds when the decision is applied."""
    rule: str | None = None
    """The name of the rule that answered REJECT, WAIT or ABORT (for logs); None on ACCEPT."""

    @property
    def changes_state(self) -> bool:
        """Whether applying this decision gives the run a new state (ACCEPT, or REJECT with one)."""
        return self.state is not None and self.status in (
            DecisionStatus.ACCEPT,
            DecisionStatus.REJECT,
        )
