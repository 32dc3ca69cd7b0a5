"""Decisions as plans: all one proposal changes, computed purely, applied whole or not at all.

A service (or the offline orchestrator) reads the run and what the rules need, asks one of the
`plan_*` functions, and hands the `Plan` to its store. A plan says the run as it will be stored
(new state, bookkeeping, one version later, resurrections), the concurrency slots to take
(each a lease with an expiry, conditional on the limit's lease version as read) and to give
back, and the answer for the proposer. The control plane's store applies it as one
`TransactWriteItems` (the run's version condition plus every slot change), so a crash between
writes cannot leak a slot or admit a run over its limit; the offline orchestrator applies it to
memory under one lock. A plan that writes nothing (WAIT, ABORT, a refusal that keeps the state)
has `run` None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar
from uuid import UUID

from stratoflow.orchestration.bookkeeping import Bookkeeping, bookkeeping
from stratoflow.orchestration.context import (
    Decision,
    ProposalContext,
    Proposer,
    RunKind,
    RunView,
    TagSlots,
)
from stratoflow.orchestration.policies import decide
from stratoflow.orchestration.rules import new_state, wait
from stratoflow.schemas import (
    FlowRun,
    OrchestrationResult,
    RetryPolicy,
    State,
    StateName,
    StateType,
    TaskRun,
)

DEFAULT_LEASE_SECONDS = 600.0
"""How long a concurrency slot stays held without renewal (the control plane's setting
`slot_lease_seconds` overrides it); a flow run's heartbeat renews its leases and its tasks'."""

ACTIVE_STATES: frozenset[StateType] = frozenset(
    {StateType.PENDING, StateType.RUNNING, StateType.CANCELLING}
)
"""The states in which a flow run holds its work-queue and deployment slots."""

LIMIT_WAIT_SECONDS = 5.0
"""How long a claim that found its queue or deployment at its limit leaves the run."""

RunT = TypeVar("RunT", FlowRun, TaskRun)


@dataclass(frozen=True)
class SlotTake:
    """Take a lease on one slot of `tag` for `holder`, if the limit is still as read."""

    tag: str
    holder: UUID
    expires: datetime
    read_version: int
    """The limit's lease version when it was read; the take fails (and so the plan) if a
    rival took a slot since."""
    evict: tuple[UUID, ...] = ()
    """Holders whose lease had expired: removed in the same write."""


@dataclass(frozen=True)
class SlotGiveBack:
    """Give back `holder`'s slot of `tag` (a no-op where it holds none)."""

    tag: str
    holder: UUID


@dataclass(frozen=True)
class Plan(Generic[RunT]):
    """What applying one decision writes, all of it or none of it."""

    decision: Decision
    current: RunT
    """The run as read: the plan is conditional on its version."""
    run: RunT | None = None
    """The run as it will be stored (one version later); None when nothing is written."""
    books: Bookkeeping | None = None
    """The counters and times the change records (already applied to `run`)."""
    take: tuple[SlotTake, ...] = ()
    give_back: tuple[SlotGiveBack, ...] = ()
    holds: tuple[str, ...] = ()
    """The slots the run holds once the plan is applied."""

    @property
    def writes(self) -> bool:
        """Whether the plan changes anything."""
        return self.run is not None

    @property
    def expected_version(self) -> int:
        """The version the run must still be at for the plan to apply."""
        return self.current.version

    @property
    def resurrections(self) -> int:
        """Flow runs: how often Lazarus has rescheduled the run once the plan is applied."""
        run = self.run if self.run is not None else self.current
        return run.resurrections if isinstance(run, FlowRun) else 0

    def answer(self) -> OrchestrationResult:
        """The proposer's answer once the plan is applied (or, writing nothing, now)."""
        run = self.run if self.run is not None else self.current
        return OrchestrationResult(
            status=self.decision.status,
            state=run.state,
            version=run.version,
            delay_seconds=self.decision.delay_seconds,
            reason=self.decision.reason,
        )


def run_changes(
    previous: State, run_count: int, start_time: datetime | None, new: State, now: datetime
) -> tuple[dict[str, object], Bookkeeping]:
    """The fields a state change sets on any run (state, counters, times), and the books."""
    books = bookkeeping(previous, new, run_count, now)
    update: dict[str, object] = {"state": new, "run_count": books.run_count, "updated": now}
    if books.start_time is not None and start_time is None:
        update["start_time"] = books.start_time
    if books.end_time is not None:
        update["end_time"] = books.end_time
    elif books.clears_end_time:
        update["end_time"] = None
    return update, books


# --- flow runs -------------------------------------------------------------------------------


def flow_run_view(run: FlowRun) -> RunView:
    """What the rules see of a flow run."""
    return RunView(
        kind=RunKind.FLOW,
        state=run.state,
        version=run.version,
        run_count=run.run_count,
        retry_policy=run.retry_policy,
        resurrections=run.resurrections,
        on_work_queue=run.work_queue is not None,
    )


def plan_flow_run(
    run: FlowRun,
    proposed: State,
    now: datetime,
    *,
    proposer: Proposer = Proposer.CLIENT,
    retry_policy: RetryPolicy | None = None,
    resurrect: bool = False,
) -> Plan[FlowRun]:
    """Plan a proposal for a flow run.

    Args:
        run: the run as read.
        proposed: the proposed state.
        now: the clock.
        proposer: who proposes.
        retry_policy: a retry policy the proposal records (the engine sends its flow's).
        resurrect: Lazarus rescheduling the run: the change counts one more resurrection.
    """
    if retry_policy is not None:
        run = run.model_copy(update={"retry_policy": retry_policy})
    context = ProposalContext(run=flow_run_view(run), proposed=proposed, now=now, proposer=proposer)
    decision = decide(context)
    if not decision.changes_state:
        return Plan(decision=decision, current=run)
    assert decision.state is not None
    updated, books = _advance_flow_run(run, decision.state, now)
    if resurrect:
        updated = updated.model_copy(update={"resurrections": run.resurrections + 1})
    give_back = _leaving_active(run, updated)
    if give_back:
        updated = updated.model_copy(update={"concurrency_slots": []})
    return Plan(
        decision=decision,
        current=run,
        run=updated,
        books=books,
        give_back=give_back,
        holds=tuple(updated.concurrency_slots),
    )


def plan_claim(
    run: FlowRun,
    now: datetime,
    *,
    agent_id: UUID | None,
    slots: tuple[TagSlots, ...] = (),
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ahead_until: datetime | None = None,
) -> Plan[FlowRun]:
    """Plan an agent's (or the dispatcher's) claim: SCHEDULED → PENDING, holding a lease on
    a slot of each limit in `slots` (the run's work queue's and deployment's, as read).

    A full limit answers WAIT and writes nothing; a zero limit likewise (the run stays
    SCHEDULED until the limit is raised). `ahead_until` (an agent's prefetch horizon) lets a
    run due by then be claimed before its scheduled time.
    """
    pending = new_state(StateType.PENDING, StateName.PENDING, now, "Claimed by an agent")
    context = ProposalContext(
        run=flow_run_view(run), proposed=pending, now=now, claim_ahead_until=ahead_until
    )
    decision = decide(context)
    if decision.state is None or decision.state.type is not StateType.PENDING:
        return Plan(decision=decision, current=run)
    full = [limit.tag for limit in slots if not limit.available]
    if full:
        return Plan(decision=wait(LIMIT_WAIT_SECONDS, f"{full[0]} is at its limit"), current=run)
    updated, books = _advance_flow_run(run, decision.state, now)
    held = tuple(limit.tag for limit in slots)
    updated = updated.model_copy(
        update={"agent_id": agent_id, "heartbeat": now, "concurrency_slots": list(held)}
    )
    expires = now + timedelta(seconds=lease_seconds)
    take = tuple(_take(limit, run.id, expires) for limit in slots if not limit.holds_slot)
    return Plan(decision=decision, current=run, run=updated, books=books, take=take, holds=held)


def _advance_flow_run(run: FlowRun, state: State, now: datetime) -> tuple[FlowRun, Bookkeeping]:
    update, books = run_changes(run.state, run.run_count, run.start_time, state, now)
    if state.scheduled_time is not None:
        update["expected_start_time"] = state.scheduled_time
    return run.model_copy(update={**update, "version": run.version + 1}), books


def _leaving_active(before: FlowRun, after: FlowRun) -> tuple[SlotGiveBack, ...]:
    if not before.concurrency_slots or after.state.type in ACTIVE_STATES:
        return ()
    return tuple(SlotGiveBack(tag, before.id) for tag in before.concurrency_slots)


# --- task runs -------------------------------------------------------------------------------


def task_run_view(run: TaskRun) -> RunView:
    """What the rules see of a task run (retries are the engine's business for tasks)."""
    return RunView(kind=RunKind.TASK, state=run.state, version=run.version, run_count=run.run_count)


def plan_task_run(
    run: TaskRun,
    proposed: State,
    now: datetime,
    *,
    held: tuple[str, ...] = (),
    flow_run_state: State | None = None,
    tag_slots: tuple[TagSlots, ...] = (),
    cached: State | None = None,
    proposer: Proposer = Proposer.CLIENT,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> Plan[TaskRun]:
    """Plan a proposal for a task run.

    Args:
        run: the task run as read.
        proposed: the proposed state.
        now: the clock.
        held: the tags whose slot the run holds, as recorded on it.
        flow_run_state: RUNNING proposals: the state of the task's flow run.
        tag_slots: RUNNING proposals: the limits of the run's tags that have one.
        cached: RUNNING proposals with a cache key: an unexpired COMPLETED state for it.
        proposer: who proposes.
        lease_seconds: how long a slot taken now is held without renewal.
    """
    context = ProposalContext(
        run=task_run_view(run),
        proposed=proposed,
        now=now,
        flow_run_state=flow_run_state,
        tag_slots=tag_slots,
        cached=cached,
        proposer=proposer,
    )
    decision = decide(context)
    if not decision.changes_state:
        return Plan(decision=decision, current=run, holds=held)
    assert decision.state is not None
    update, books = run_changes(run.state, run.run_count, run.start_time, decision.state, now)
    if decision.state.cache_key and not run.cache_key:
        update["cache_key"] = decision.state.cache_key
    updated = run.model_copy(update={**update, "version": run.version + 1})
    take, give_back, holds = _settle_task_slots(
        run.id, held, decision, tag_slots, now, lease_seconds
    )
    return Plan(
        decision=decision,
        current=run,
        run=updated,
        books=books,
        take=take,
        give_back=give_back,
        holds=holds,
    )


def _settle_task_slots(
    holder: UUID,
    held: tuple[str, ...],
    decision: Decision,
    tag_slots: tuple[TagSlots, ...],
    now: datetime,
    lease_seconds: float,
) -> tuple[tuple[SlotTake, ...], tuple[SlotGiveBack, ...], tuple[str, ...]]:
    if decision.release_slots:
        return (), tuple(SlotGiveBack(tag, holder) for tag in held), ()
    if not decision.acquire_slots:  # the common case: nothing to take
        return (), (), tuple(sorted(held))
    by_tag = {limit.tag: limit for limit in tag_slots}
    expires = now + timedelta(seconds=lease_seconds)
    take = tuple(
        _take(by_tag[tag], holder, expires)
        for tag in decision.acquire_slots
        if tag in by_tag and not by_tag[tag].holds_slot
    )
    holds = tuple(sorted(set(held) | {t.tag for t in take}))
    return take, (), holds


# --- shared ----------------------------------------------------------------------------------


def _take(limit: TagSlots, holder: UUID, expires: datetime) -> SlotTake:
    return SlotTake(
        tag=limit.tag,
        holder=holder,
        expires=expires,
        read_version=limit.version,
        evict=limit.expired,
    )


__all__ = [
    "ACTIVE_STATES",
    "DEFAULT_LEASE_SECONDS",
    "LIMIT_WAIT_SECONDS",
    "Plan",
    "SlotGiveBack",
    "SlotTake",
    "flow_run_view",
    "plan_claim",
    "plan_flow_run",
    "plan_task_run",
    "run_changes",
    "task_run_view",
]
