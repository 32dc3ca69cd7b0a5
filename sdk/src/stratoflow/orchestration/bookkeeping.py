"""What a state change does to a run's counters and times, computed purely.

After `decide`, the service applies the decision's state and calls `bookkeeping` with the run's
previous state, the new state, its `run_count` and the clock; it writes what comes back onto
the run in the same conditional write. The version is not handled here: the store bumps it by
exactly one per applied change.

The rules (as in Prefect):
- entering RUNNING from any other state counts one more attempt (`run_count + 1`), except
  resuming a PAUSED run, which continues the same attempt;
- the first attempt (run_count was 0) sets `start_time`; later attempts keep the first one;
- entering a terminal state sets `end_time`; leaving one (a flow retry the server schedules)
  means the old `end_time` no longer applies (`clears_end_time`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stratoflow.schemas import State, StateType


@dataclass(frozen=True)
class Bookkeeping:
    """What changes on a run's record besides its state and version."""

    run_count: int
    """The run's `run_count` after the change (always set; often unchanged)."""
    start_time: datetime | None = None
    """The start time to record, on the first entry into RUNNING; None: keep the stored one."""
    end_time: datetime | None = None
    """The end time to record, on entering a terminal state; None: keep the stored one."""
    clears_end_time: bool = False
    """True when the run leaves a terminal state: the stored end time should be removed."""


def bookkeeping(previous: State | None, new: State, run_count: int, now: datetime) -> Bookkeeping:
    """Compute what a move from `previous` to `new` changes on the run's record.

    Args:
        previous: the state before the change (None for a run being created).
        new: the state applied (a decision's `state`).
        run_count: how many times the run had entered RUNNING before this change.
        now: the service's clock.

    Returns:
        The new `run_count`, and the start and end times to record, if any.
    """
    entering = enters_running(previous, new)
    return Bookkeeping(
        run_count=run_count + 1 if entering else run_count,
        start_time=now if entering and run_count == 0 else None,
        end_time=now if enters_terminal(previous, new) else None,
        clears_end_time=previous is not None and previous.is_terminal and not new.is_terminal,
    )


def enters_running(previous: State | None, new: State) -> bool:
    """Whether the change starts a new attempt (a PAUSED run resuming does not)."""
    if new.type is not StateType.RUNNING:
        return False
    return previous is None or previous.type not in (StateType.RUNNING, StateType.PAUSED)


def enters_terminal(previous: State | None, new: State) -> bool:
    """Whether the change finishes the run."""
    return new.is_terminal and (previous is None or not previous.is_terminal)


__all__ = ["Bookkeeping", "bookkeeping", "enters_running", "enters_terminal"]
