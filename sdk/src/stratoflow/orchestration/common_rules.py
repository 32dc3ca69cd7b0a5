"""Rules that guard flow runs and task runs alike (SPEC section 2).

Terminal states are final, a run is claimed (enters PENDING) at most once per scheduled
period, a cancelling run may only end, `Late` marks only scheduled runs, and every SCHEDULED
state carries the time it is scheduled for. The policies in `policies.py` put these first.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from stratoflow.orchestration.context import Decision, ProposalContext, RunKind
from stratoflow.orchestration.rules import (
    ANY_CURRENT,
    TransitionRule,
    abort,
    accept_with,
    describe_current,
)
from stratoflow.schemas import TERMINAL_STATE_TYPES, State, StateName, StateType


def retries_remain(ctx: ProposalContext) -> bool:
    """Whether the run may run again under its retry policy (run_count counts RUNNING entries)."""
    return ctx.run.retry_policy.allows_another_attempt(ctx.run.run_count)


class PreventLeavingTerminalStates(TransitionRule):
    """A COMPLETED, FAILED, CRASHED or CANCELLED run cannot move.

    The one way out is a flow-run retry that the control plane itself schedules (SCHEDULED /
    AwaitingRetry, `ctx.from_control_plane`) for a run that FAILED or CRASHED, and only while
    its retries remain, so a server retry never gives a run more attempts than its policy allows.
    A COMPLETED run has nothing to retry and a CANCELLED one was stopped on purpose.
    """

    FROM_STATES: ClassVar[frozenset[StateType | None]] = frozenset(TERMINAL_STATE_TYPES)

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """ABORT unless this is a server-scheduled flow retry with retries left."""
        if _is_server_retry(ctx) and retries_remain(ctx):
            return None
        return abort(f"run is {describe_current(ctx)}, a terminal state")


_RETRYABLE: frozenset[StateType] = frozenset({StateType.FAILED, StateType.CRASHED})


def _is_server_retry(ctx: ProposalContext) -> bool:
    return (
        ctx.from_control_plane
        and ctx.run.state is not None
        and ctx.run.state.type in _RETRYABLE
        and ctx.run.kind is RunKind.FLOW
        and ctx.proposed.type is StateType.SCHEDULED
        and ctx.proposed.name == StateName.AWAITING_RETRY
    )


class ClaimOnlyOnce(TransitionRule):
    """Exactly-once start: PENDING may be entered only from no state or from SCHEDULED.

    Together with the service's version-conditional write this makes a second claim of the
    same scheduled run fail: after the first claim the run is PENDING, and PENDING → PENDING
    is refused here.
    """

    FROM_STATES: ClassVar[frozenset[StateType | None]] = ANY_CURRENT - {None, StateType.SCHEDULED}
    TO_STATES: ClassVar[frozenset[StateType]] = frozenset({StateType.PENDING})

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """ABORT: the run has already been claimed (or has moved on)."""
        return abort(f"run already claimed: it is {describe_current(ctx)}, not SCHEDULED")


class CancellingOnlyEnds(TransitionRule):
    """A CANCELLING run may only become CANCELLED (or CRASHED, if its infrastructure died)."""

    FROM_STATES: ClassVar[frozenset[StateType | None]] = frozenset({StateType.CANCELLING})
    TO_STATES: ClassVar[frozenset[StateType]] = frozenset(StateType) - {
        StateType.CANCELLED,
        StateType.CRASHED,
    }

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """ABORT: the run is being cancelled."""
        return abort(f"run is cancelling; {ctx.proposed.type.value} is not allowed")


class LateOnlyFromScheduled(TransitionRule):
    """The `Late` name marks a SCHEDULED run past its start time; nothing else may be Late."""

    FROM_STATES: ClassVar[frozenset[StateType | None]] = ANY_CURRENT - {StateType.SCHEDULED}
    TO_STATES: ClassVar[frozenset[StateType]] = frozenset({StateType.SCHEDULED})

    def applies(self, ctx: ProposalContext) -> bool:
        """Only proposals named Late."""
        return super().applies(ctx) and ctx.proposed.name == StateName.LATE

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """ABORT: only a SCHEDULED run can be late."""
        return abort(f"only a SCHEDULED run can be marked Late; the run is {describe_current(ctx)}")


class FillScheduledTime(TransitionRule):
    """Every SCHEDULED state says when the run is due (the work queue index sorts on it).

    A proposal without `scheduled_time` keeps the current SCHEDULED state's time (marking a
    run Late must not move it), else is due now.
    """

    TO_STATES: ClassVar[frozenset[StateType]] = frozenset({StateType.SCHEDULED})

    def applies(self, ctx: ProposalContext) -> bool:
        """Only SCHEDULED proposals with no time."""
        return super().applies(ctx) and ctx.proposed.scheduled_time is None

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """ACCEPT the proposal completed with its scheduled time."""
        return accept_with(ctx.proposed.model_copy(update={"scheduled_time": _due_time(ctx)}))


def _due_time(ctx: ProposalContext) -> datetime:
    current: State | None = ctx.run.state
    if current is not None and current.type is StateType.SCHEDULED and current.scheduled_time:
        return current.scheduled_time
    return ctx.now


__all__ = [
    "CancellingOnlyEnds",
    "ClaimOnlyOnce",
    "FillScheduledTime",
    "LateOnlyFromScheduled",
    "PreventLeavingTerminalStates",
    "retries_remain",
]
