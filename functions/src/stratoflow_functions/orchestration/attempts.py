"""When a flow run's attempt is over, and what its task runs still open then become. Pure.

Task runs belong to one attempt of their flow run: a retried run starts new ones. So when an
attempt ends (the run enters a terminal state, or goes back to SCHEDULED for a retry or a
resurrection), no task run of it can still finish, and the service closes every one that is
not final yet with `left_over_task_state`. When a later attempt enters RUNNING the service
closes whatever an earlier attempt left (a clean-up that was cut short, a reschedule that went
around the proposal path): at that moment no task run of the new attempt exists yet.
"""

from __future__ import annotations

from datetime import datetime

from stratoflow.schemas import State, StateType
from stratoflow_functions.orchestration.bookkeeping import enters_running, enters_terminal
from stratoflow_functions.orchestration.rules import new_state


def ends_attempt(previous: State, new: State) -> bool:
    """Whether a flow run moving from `previous` to `new` ends its current attempt.

    It does when the run enters a terminal state, or goes back to SCHEDULED from a state in
    which it was claimed or running (a retry, a resurrection). A run that is only marked Late,
    or a server retry of a run that had already ended, ends nothing new.
    """
    if enters_terminal(previous, new):
        return True
    was_out = previous.type is StateType.SCHEDULED or previous.is_terminal
    return new.type is StateType.SCHEDULED and not was_out


def starts_later_attempt(previous: State, new: State, run_count: int) -> bool:
    """Whether the change starts attempt two or later (`run_count` as read before it)."""
    return run_count >= 1 and enters_running(previous, new)


def left_over_task_state(flow_state: State, now: datetime) -> State:
    """The final state of a task run still open when its flow run's attempt is over.

    Args:
        flow_state: the flow run's new state (the one that ended the attempt, or the RUNNING
            state of its next attempt).
        now: the service's clock.

    Returns:
        CANCELLED for a cancelled flow run (its tasks are not to run); else CRASHED, since
        the task did not fail on its own: what was running it is gone. The message names the
        flow run's state and carries its message.
    """
    if flow_state.type is StateType.CANCELLED:
        return new_state(StateType.CANCELLED, "Cancelled", now, "The flow run was cancelled.")
    if flow_state.type is StateType.RUNNING:
        message = "Left over from an earlier attempt of the flow run, which is running again."
        return new_state(StateType.CRASHED, "Crashed", now, message)
    message = (
        f"The flow run's attempt ended ({flow_state.type.value} / {flow_state.name}) "
        "before this task run finished"
    )
    if flow_state.message:
        message += f": {flow_state.message}"
    return new_state(StateType.CRASHED, "Crashed", now, message)


__all__ = ["ends_attempt", "left_over_task_state", "starts_later_attempt"]
