"""What an orchestration rule sees and what it answers. Pure data: no I/O anywhere here.

The service layer reads everything a proposal needs (the run, its parent flow run, tag slots,
a cache entry) into a `ProposalContext`, asks a policy for a `Decision`, then persists the
decision with one conditional write. Rules never query anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from stratoflow.schemas import DecisionStatus, RetryPolicy, State


class RunKind(StrEnum):
    """Flow runs and task runs follow different policies."""

    FLOW = "flow"
    TASK = "task"


class Proposer(StrEnum):
    """Who made a proposal: the rules trust the control plane's own services further.

    Everything that reaches the API (an engine, an agent, a launcher reporting through it, a
    user) and the offline orchestrator's engine is a CLIENT. The control plane's services (the
    zombie killer, Lazarus, a retry or cancellation the server decides) are the CONTROL_PLANE;
    nothing a request carries can make a proposal one.
    """

    CLIENT = "client"
    CONTROL_PLANE = "control_plane"


NO_RETRIES = RetryPolicy()
"""The retry policy of a run that has none (shared: the model is frozen)."""


@dataclass(frozen=True)
class RunView:
    """The parts of a run that rules look at."""

    kind: RunKind
    state: State | None
    version: int = 0
    run_count: int = 0
    retry_policy: RetryPolicy = NO_RETRIES
    resurrections: int = 0
    on_work_queue: bool = False
    """Flow runs only: whether the run is on a work queue, so someone can claim another
    attempt (a deployment's run); a flow called directly is not."""


@dataclass(frozen=True)
class TagSlots:
    """The concurrency limit of one tag (or reserved slot tag) as read just before deciding.

    Slots are leases: each holder's slot expires unless renewed, so a holder that dies frees
    its slot by itself. `active` counts the live leases; `expired` names the holders whose
    lease has run out, which a take removes in the same write.
    """

    tag: str
    limit: int
    active: int
    holds_slot: bool = False
    """True when this run already holds one of the tag's slots (a live lease)."""
    version: int = 0
    """The limit's lease version as read: a take is conditional on it, so two runs racing for
    the last slot cannot both win."""
    expired: tuple[UUID, ...] = ()
    """Holders whose lease expired: they hold nothing, and a take drops them."""

    @property
    def available(self) -> bool:
        """Whether this run may hold a slot now."""
        return self.holds_slot or self.active < self.limit

    @classmethod
    def from_leases(
        cls,
        tag: str,
        limit: int,
        leases: Mapping[UUID, datetime],
        holder: UUID,
        now: datetime,
        version: int = 0,
    ) -> TagSlots:
        """Count the live leases of a limit's lease map (holder id → lease expiry)."""
        live = {run_id for run_id, expires in leases.items() if expires > now}
        expired = tuple(sorted(run_id for run_id in leases if run_id not in live))
        return cls(
            tag=tag,
            limit=limit,
            active=len(live),
            holds_slot=holder in live,
            version=version,
            expired=expired,
        )


@dataclass(frozen=True)
class TaskTraits:
    """What the engine knows of a task run before its first proposal, for `needs_answer`."""

    tags: tuple[str, ...] = ()
    cache_key: str | None = None
    flow_stopping: bool = False
    """The flow run is being cancelled or held, or the engine is checking for it."""


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
    proposer: Proposer = Proposer.CLIENT
    """Who proposes: the control plane's own services may schedule retries of ended runs."""
    claim_ahead_until: datetime | None = None
    """Claims only: an agent's prefetch horizon. A run due by then may be claimed (PENDING)
    before its scheduled time; its process waits for that time before proposing RUNNING."""

    @property
    def from_control_plane(self) -> bool:
        """Whether the control plane itself proposes (a Towel service, a server retry)."""
        return self.proposer is Proposer.CONTROL_PLANE


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
