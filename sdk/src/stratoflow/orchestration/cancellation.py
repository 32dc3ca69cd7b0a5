"""What a cancel request proposes for a flow run, decided once for the server and offline.

Cancelling is a proposal like any other: the caller reads the run, asks `cancel_target` which
state to propose, and plans that proposal with `plan_flow_run`, whose rules have the last word
(a run that has finished cannot move: ABORT). A run that has not started yet has nothing to
stop, so it is cancelled at once; a running one becomes CANCELLING, and its engine (or its
agent) stops it and reports CANCELLED.
"""

from __future__ import annotations

from datetime import datetime

from stratoflow.orchestration.rules import new_state
from stratoflow.schemas import State, StateName, StateType

CANCEL_DIRECTLY: frozenset[StateType] = frozenset(
    {StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED}
)
"""The states in which no process runs the flow yet (or any more), so a cancel ends the run."""

CANCEL_MESSAGE = "Cancelled by request"


def cancel_target(current: State, now: datetime) -> State | None:
    """The state a cancel request proposes for a flow run in `current`.

    Args:
        current: the run's state as read.
        now: the caller's clock (the proposal's timestamp).

    Returns:
        None when the run is CANCELLING already (nothing to propose: the answer is the run as
        it is); CANCELLED for a run no process is running; CANCELLING for any other, a
        finished run included (the rules refuse that proposal, so the caller answers ABORT or
        its own error).
    """
    if current.type is StateType.CANCELLING:
        return None
    if current.type in CANCEL_DIRECTLY:
        return new_state(StateType.CANCELLED, StateName.CANCELLED, now, CANCEL_MESSAGE)
    return new_state(StateType.CANCELLING, StateName.CANCELLING, now, CANCEL_MESSAGE)


__all__ = ["CANCEL_DIRECTLY", "CANCEL_MESSAGE", "cancel_target"]
