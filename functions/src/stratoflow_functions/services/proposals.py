"""The steps every state proposal shares, flow run or task run: replaying a repeated
transition, the `expected_version` check, retrying lost write races, the answer that changes
nothing, and the fields any state change sets. `flow_run_states` and `task_run_states` build on
these (kept apart so the task-run service never imports the flow-run one, and back).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from stratoflow.orchestration import Decision, bookkeeping
from stratoflow.schemas import OrchestrationResult, State, StateProposal
from stratoflow_functions.errors import ConflictError

MAX_ATTEMPTS = 5
"""How often a proposal re-reads after losing a race before it gives up with a 409."""


def retry_lost_races(
    attempt: Callable[[], OrchestrationResult], proposal: StateProposal, what: str
) -> OrchestrationResult:
    """Run `attempt` (read, decide, conditional write) again while it loses write races,
    unless the caller pinned `expected_version`: then the lost race is its 409."""
    for _ in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except ConflictError:
            if proposal.expected_version is not None:
                raise
    raise ConflictError(
        f"{what} kept changing while the proposal was applied; propose again",
        code="version_conflict",
    )


def replay_answer(
    last_transition_id: UUID | None,
    last_result: OrchestrationResult | None,
    proposal: StateProposal,
) -> OrchestrationResult | None:
    """The stored answer when this proposal repeats the last applied transition."""
    if proposal.transition_id is None or proposal.transition_id != last_transition_id:
        return None
    return last_result


def check_expected_version(version: int, proposal: StateProposal) -> None:
    """Refuse a proposal made against a version the run has moved past."""
    if proposal.expected_version is not None and proposal.expected_version != version:
        raise ConflictError(
            f"the run is at version {version}, not {proposal.expected_version}",
            code="version_conflict",
        )


def unchanged_answer(decision: Decision, state: State, version: int) -> OrchestrationResult:
    """An answer that leaves the run as it is (WAIT, ABORT, or REJECT keeping the state)."""
    return OrchestrationResult(
        status=decision.status,
        state=state,
        version=version,
        delay_seconds=decision.delay_seconds,
        reason=decision.reason,
    )


def run_changes(
    previous: State, run_count: int, start_time: datetime | None, new: State, now: datetime
) -> dict[str, object]:
    """The fields a state change sets on any run: state, counters, times."""
    books = bookkeeping(previous, new, run_count, now)
    update: dict[str, object] = {"state": new, "run_count": books.run_count, "updated": now}
    if books.start_time is not None and start_time is None:
        update["start_time"] = books.start_time
    if books.end_time is not None:
        update["end_time"] = books.end_time
    elif books.clears_end_time:
        update["end_time"] = None
    return update


__all__ = [
    "MAX_ATTEMPTS",
    "check_expected_version",
    "replay_answer",
    "retry_lost_races",
    "run_changes",
    "unchanged_answer",
]
