"""Proposing a flow run's state: read, decide with the pure policy, persist with one conditional
write. The loser of a race re-reads and decides again; a caller that named `expected_version`
gets a 409 instead, since it asked to act only on the version it saw.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from stratoflow.schemas import DecisionStatus, FlowRun, OrchestrationResult, State, StateProposal
from stratoflow_functions.errors import ConflictError
from stratoflow_functions.orchestration import (
    Decision,
    ProposalContext,
    RunKind,
    RunView,
    bookkeeping,
    decide,
)
from stratoflow_functions.services.run_slots import (
    give_back,
    leaving_active,
    without_slots_when_inactive,
)
from stratoflow_functions.store import FlowRunRecord, Store

MAX_ATTEMPTS = 5
"""How often a proposal re-reads after losing a race before it gives up with a 409."""


def propose_flow_run_state(
    store: Store,
    run_id: UUID,
    proposal: StateProposal,
    now: datetime,
    *,
    from_server: bool = False,
) -> OrchestrationResult:
    """Answer a proposal for a flow run and apply what the policy decided."""

    def attempt() -> OrchestrationResult:
        record = store.flow_runs.get(run_id)
        replayed = replay_answer(record.last_transition_id, record.last_result, proposal)
        if replayed is not None:
            return replayed
        check_expected_version(record.run.version, proposal)
        return _decide_and_apply(store, record, proposal, now, from_server)

    return retry_lost_races(attempt, proposal, f"flow run {run_id}")


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


def _decide_and_apply(
    store: Store,
    record: FlowRunRecord,
    proposal: StateProposal,
    now: datetime,
    from_server: bool,
) -> OrchestrationResult:
    run = record.run
    if proposal.retry_policy is not None:
        run = run.model_copy(update={"retry_policy": proposal.retry_policy})
    context = ProposalContext(
        run=flow_run_view(run), proposed=proposal.state, now=now, from_server=from_server
    )
    decision = decide(context)
    if decision.state is None or decision.status in (DecisionStatus.WAIT, DecisionStatus.ABORT):
        return unchanged_answer(decision, run.state, run.version)
    updated = advance_flow_run(run, decision, now)
    result = OrchestrationResult(
        status=decision.status,
        state=updated.state,
        version=updated.version,
        delay_seconds=decision.delay_seconds,
        reason=decision.reason,
    )
    store.flow_runs.save(
        updated,
        expected_version=record.run.version,
        transition_id=proposal.transition_id,
        result=result,
    )
    give_back(store, run.id, leaving_active(run, updated))
    return result


def flow_run_view(run: FlowRun) -> RunView:
    """What the rules see of a flow run."""
    return RunView(
        kind=RunKind.FLOW,
        state=run.state,
        version=run.version,
        run_count=run.run_count,
        retry_policy=run.retry_policy,
        resurrections=run.resurrections,
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


def advance_flow_run(run: FlowRun, decision: Decision, now: datetime) -> FlowRun:
    """The run after the decided state is applied (one version later)."""
    assert decision.state is not None
    update = run_changes(run.state, run.run_count, run.start_time, decision.state, now)
    if decision.state.scheduled_time is not None:
        update["expected_start_time"] = decision.state.scheduled_time
    return without_slots_when_inactive(
        run.model_copy(update={**update, "version": run.version + 1})
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
