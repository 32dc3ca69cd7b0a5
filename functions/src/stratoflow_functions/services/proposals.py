"""The steps every state proposal shares, flow run or task run: replaying a repeated
transition, the `expected_version` check, and retrying lost write races (read, plan, apply the
plan again). `flow_run_states` and `task_run_states` build on these (kept apart so the task-run
service never imports the flow-run one, and back).
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from stratoflow.schemas import OrchestrationResult, StateProposal
from stratoflow_functions.errors import ConflictError

MAX_ATTEMPTS = 5
"""How often a proposal re-reads after losing a race before it gives up with a 409."""


def retry_lost_races(
    attempt: Callable[[], OrchestrationResult], proposal: StateProposal, what: str
) -> OrchestrationResult:
    """Run `attempt` (read, plan, apply the plan) again while it loses write races,
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


__all__ = [
    "MAX_ATTEMPTS",
    "check_expected_version",
    "replay_answer",
    "retry_lost_races",
]
