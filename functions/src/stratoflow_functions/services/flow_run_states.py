"""Proposing a flow run's state: read, ask the kernel for a plan (`plan_flow_run`), and have the
store apply it whole: the run at the version read and, when the run leaves the active states,
the work-queue and deployment slots it gives back, in one transaction. The loser of a race
re-reads and plans again; a caller that named `expected_version` gets a 409 instead, since it
asked to act only on the version it saw.

A change that ends an attempt (`orchestration.attempts`) is followed by closing the task runs
that attempt left open; a change that starts a later attempt first closes what earlier ones
left. A replayed proposal runs the follow-up again, so a proposer that retries after an error
finishes it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from stratoflow.orchestration import Proposer, plan_flow_run
from stratoflow.orchestration.attempts import (
    closes_left_over_task_runs,
    starts_later_attempt,
)
from stratoflow.schemas import FlowRun, OrchestrationResult, StateProposal, StateType
from stratoflow_functions.services.attempt_end import close_left_over_task_runs
from stratoflow_functions.services.proposals import (
    check_expected_version,
    replay_answer,
    retry_lost_races,
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
    """Plan the proposal and apply the plan: the run and any slots it gives back, at once."""
    plan = plan_flow_run(
        record.run, proposal.state, now, proposer=proposer, retry_policy=proposal.retry_policy
    )
    if plan.run is None:
        return plan.answer()
    before, after = plan.current, plan.run
    if starts_later_attempt(before.state, after.state, before.run_count):
        close_left_over_task_runs(store, before.id, after.state, now)
    result = plan.answer()
    store.flow_runs.apply(plan, transition_id=proposal.transition_id, result=result)
    if closes_left_over_task_runs(before.state, after.state):
        close_left_over_task_runs(store, before.id, after.state, now)
    return result


def _close_if_over(store: Store, run: FlowRun, now: datetime) -> None:
    """The follow-up again, for a replayed proposal whose change ended an attempt."""
    state = run.state
    settled = state.type is StateType.COMPLETED  # see orchestration.attempts
    if (state.is_terminal and not settled) or (
        state.type is StateType.SCHEDULED and run.run_count >= 1
    ):
        close_left_over_task_runs(store, run.id, state, now)
