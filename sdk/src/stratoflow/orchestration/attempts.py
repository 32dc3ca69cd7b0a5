"""When a flow run's attempt is over, and what its task runs still open then become. Pure.

Task runs belong to one attempt of their flow run: a retried run starts new ones. So when an
attempt ends (the run enters a terminal state, or goes back to SCHEDULED for a retry or a
resurrection), no task run of it can still finish, and the service closes every one that is
not final yet with `left_over_task_state`. When a later attempt enters RUNNING the service
closes whatever an earlier attempt left (a clean-up that was cut short, a reschedule that went
around the proposal path): at that moment no task run of the new attempt exists yet.

A COMPLETED attempt needs no clean-up: only the engine proposes COMPLETED, and it does so after
every task run it started has finished (it waits for submitted tasks first). Skipping it keeps
the cost of a clean-up (a read of every task run of the flow run: 1,000 for a 1,000-task flow)
off the path of every successful run; leftovers of an earlier attempt were closed when the
attempt that completed entered RUNNING.
"""

from __future__ import annotations

from datetime import datetime

from stratoflow.orchestration.bookkeeping import enters_running, enters_terminal
from stratoflow.orchestration.rules import new_state
from stratoflow.schemas import State, StateName, StateType


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


def closes_left_over_task_runs(previous: State, new: State) -> bool:
    """Whether a flow run moving from `previous` to `new` may leave task runs open to close.

    Every change that ends an attempt does, except completion (see the module docstring).
    """
    return ends_attempt(previous, new) and new.type is not StateType.COMPLETED


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
        return new_state(
            StateType.CANCELLED, StateName.CANCELLED, now, "The flow run was cancelled."
        )
    if flow_state.type is StateType.RUNNING:
        message = "Left over from an earlier attempt of the flow run, which is running again."
        return new_state(StateType.CRASHED, StateName.CRASHED, now, message)
    message = (
        f"The flow run's attempt ended ({flow_state.type.value} / {flow_state.name}) "
        "before this task run finished"
    )
    if flow_state.message:
        message += f": {flow_state.message}"
    return new_state(StateType.CRASHED, StateName.CRASHED, now, message)


__all__ = [
    "closes_left_over_task_runs",
    "ends_attempt",
    "left_over_task_state",
    "starts_later_attempt",
]
