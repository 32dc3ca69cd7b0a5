"""Proposing a flow run's state: read, decide with the pure policy, persist with one conditional
write. The loser of a race re-reads and decides again; a caller that named `expected_version`
gets a 409 instead, since it asked to act only on the version it saw.

A change that ends an attempt (`orchestration.attempts`) is followed by closing the task runs
that attempt left open; a change that starts a later attempt first closes what earlier ones
left. A replayed proposal runs the follow-up again, so a proposer that retries after an error
finishes it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from stratoflow.orchestration import Decision, ProposalContext, Proposer, RunKind, RunView, decide
from stratoflow.orchestration.attempts import (
    closes_left_over_task_runs,
    starts_later_attempt,
)
from stratoflow.schemas import (
    DecisionStatus,
    FlowRun,
    OrchestrationResult,
    StateProposal,
    StateType,
)
from stratoflow_functions.services.attempt_end import close_left_over_task_runs
from stratoflow_functions.services.proposals import (
    check_expected_version,
    replay_answer,
    retry_lost_races,
    run_changes,
    unchanged_answer,
)
from stratoflow_functions.services.run_slots import (
    give_back,
    leaving_active,
    without_slots_when_inactive,
)
from stratoflow_functions.store import FlowRunRecord, Store


def propose_flow_run_state(
    store: Store,
    run_id: UUID,
    proposal: StateProposal,
    now: datetime,
    *,
    proposer: Proposer = Proposer.CLIENT,
) -> OrchestrationResult:
    """Answer a proposal for a flow run and apply what the policy decided."""

    def attempt() -> OrchestrationResult:
        record = store.flow_runs.get(run_id)
        replayed = replay_answer(record.last_transition_id, record.last_result, proposal)
        if replayed is not None:
            _close_if_over(store, record.run, now)
            return replayed
        check_expected_version(record.run.version, proposal)
        return _decide_and_apply(store, record, proposal, now, proposer)

    return retry_lost_races(attempt, proposal, f"flow run {run_id}")


def _decide_and_apply(
    store: Store,
    record: FlowRunRecord,
    proposal: StateProposal,
    now: datetime,
    proposer: Proposer,
) -> OrchestrationResult:
    run = record.run
    if proposal.retry_policy is not None:
        run = run.model_copy(update={"retry_policy": proposal.retry_policy})
    context = ProposalContext(
        run=flow_run_view(run), proposed=proposal.state, now=now, proposer=proposer
    )
    decision = decide(context)
    if decision.state is None or decision.status in (DecisionStatus.WAIT, DecisionStatus.ABORT):
        return unchanged_answer(decision, run.state, run.version)
    updated = advance_flow_run(run, decision, now)
    if starts_later_attempt(run.state, updated.state, run.run_count):
        close_left_over_task_runs(store, run.id, updated.state, now)
    result = _save(store, record, updated, decision, proposal)
    give_back(store, run.id, leaving_active(run, updated))
    if closes_left_over_task_runs(run.state, updated.state):
        close_left_over_task_runs(store, run.id, updated.state, now)
    return result


def _save(
    store: Store,
    record: FlowRunRecord,
    updated: FlowRun,
    decision: Decision,
    proposal: StateProposal,
) -> OrchestrationResult:
    """Write the decided run at the version read, with the answer a replay gives back."""
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
    return result


def _close_if_over(store: Store, run: FlowRun, now: datetime) -> None:
    """The follow-up again, for a replayed proposal whose change ended an attempt."""
    state = run.state
    settled = state.type is StateType.COMPLETED  # see orchestration.attempts
    if (state.is_terminal and not settled) or (
        state.type is StateType.SCHEDULED and run.run_count >= 1
    ):
        close_left_over_task_runs(store, run.id, state, now)


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


def advance_flow_run(run: FlowRun, decision: Decision, now: datetime) -> FlowRun:
    """The run after the decided state is applied (one version later)."""
    assert decision.state is not None
    update = run_changes(run.state, run.run_count, run.start_time, decision.state, now)
    if decision.state.scheduled_time is not None:
        update["expected_start_time"] = decision.state.scheduled_time
    return without_slots_when_inactive(
        run.model_copy(update={**update, "version": run.version + 1})
    )
