"""The base of every orchestration rule, and the small helpers rules answer with.

A rule is a small named class in the style of Prefect's `core_policy.py`: it declares the run
kinds, current state types and proposed state types it guards, and `evaluate` answers a
`Decision`, or `None` for "no opinion". A rule only runs when the transition matches what it
guards. An ACCEPT answer means "accept, with these amendments" (a completed state, slots to
take or give back); anything else ends the policy. Rules are pure: they see a
`ProposalContext` and nothing else, never the clock (`ctx.now` is the clock).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import ClassVar

from stratoflow.orchestration.context import Decision, ProposalContext, RunKind, TaskTraits
from stratoflow.schemas import DecisionStatus, State, StateType

ALL_STATE_TYPES: frozenset[StateType] = frozenset(StateType)
"""Every state type a run can be proposed into."""

ANY_CURRENT: frozenset[StateType | None] = frozenset({*StateType, None})
"""Every current state, including none at all (a run being created)."""

BOTH_KINDS: frozenset[RunKind] = frozenset(RunKind)


def current_type(ctx: ProposalContext) -> StateType | None:
    """The type of the run's current state, or None for a run with no state yet."""
    return ctx.run.state.type if ctx.run.state is not None else None


def describe_current(ctx: ProposalContext) -> str:
    """The run's current state for a reason: `RUNNING (Retrying)`, or `new` with no state."""
    state = ctx.run.state
    return "new" if state is None else f"{state.type.value} ({state.name})"


def leaves_running(current: State | None, new: State | None) -> bool:
    """Whether moving from `current` to `new` takes a run out of RUNNING."""
    if current is None or new is None:
        return False
    return current.type is StateType.RUNNING and new.type is not StateType.RUNNING


def abort(reason: str) -> Decision:
    """Stop: the proposal is refused for good and the run stays as it is."""
    return Decision(status=DecisionStatus.ABORT, reason=reason)


def wait(delay_seconds: float, reason: str) -> Decision:
    """Not now: the proposer should propose again after `delay_seconds`."""
    return Decision(status=DecisionStatus.WAIT, delay_seconds=delay_seconds, reason=reason)


def reject(state: State, reason: str) -> Decision:
    """Refuse the proposal and move the run to `state` instead."""
    return Decision(status=DecisionStatus.REJECT, state=state, reason=reason)


def accept_with(
    state: State | None = None,
    *,
    acquire_slots: tuple[str, ...] = (),
    release_slots: bool = False,
) -> Decision:
    """Accept, amended: a completed proposal, or slot actions for the service to carry out."""
    return Decision(
        status=DecisionStatus.ACCEPT,
        state=state,
        acquire_slots=acquire_slots,
        release_slots=release_slots,
    )


def new_state(
    type_: StateType, name: str, now: datetime, message: str | None = None, **fields: object
) -> State:
    """Build a state stamped with the context's clock (a bare `State()` would read the clock)."""
    return State.model_validate(
        {"type": type_, "name": name, "timestamp": now, "message": message, **fields}
    )


class TransitionRule(ABC):
    """One orchestration rule: what it guards, and its answer for a matching transition.

    Subclasses set the class attributes and implement `evaluate`. Policies hold instances;
    rules keep no state, so one instance serves every proposal.
    """

    KINDS: ClassVar[frozenset[RunKind]] = BOTH_KINDS
    """The run kinds this rule applies to."""
    FROM_STATES: ClassVar[frozenset[StateType | None]] = ANY_CURRENT
    """Current state types this rule guards (None: a run with no state yet)."""
    TO_STATES: ClassVar[frozenset[StateType]] = ALL_STATE_TYPES
    """Proposed state types this rule guards."""

    @property
    def name(self) -> str:
        """The rule's name, for reasons and logs."""
        return type(self).__name__

    def applies(self, ctx: ProposalContext) -> bool:
        """Whether the proposal in `ctx` is a transition this rule guards."""
        return (
            ctx.run.kind in self.KINDS
            and current_type(ctx) in self.FROM_STATES
            and ctx.proposed.type in self.TO_STATES
        )

    def may_hold_back(self, task: TaskTraits) -> bool:
        """Whether this rule could answer a task run's RUNNING proposal other than by accepting
        it as proposed. The engine proposes such task runs and waits for the answer; all
        others it records in batches. A rule that guards task runs overrides this."""
        return False

    @abstractmethod
    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """Answer a matching proposal.

        Args:
            ctx: the proposal and everything read for it.

        Returns:
            None for no opinion; an ACCEPT decision to accept with amendments; a REJECT, WAIT
            or ABORT decision to end the policy with that answer.
        """

    def __repr__(self) -> str:
        return f"{self.name}()"


__all__ = [
    "ALL_STATE_TYPES",
    "ANY_CURRENT",
    "BOTH_KINDS",
    "TransitionRule",
    "abort",
    "accept_with",
    "current_type",
    "describe_current",
    "leaves_running",
    "new_state",
    "reject",
    "wait",
]
