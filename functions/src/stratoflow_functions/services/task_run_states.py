"""Proposing a task run's state. Like flow runs, plus what only task runs have: the parent flow
run must be RUNNING, tags may have concurrency limits, and a cache key may answer RUNNING with
a stored result. The kernel's `plan_task_run` decides, with the tag slots it takes (leases, on
the lease version read) or gives back; the store applies the run and those slot changes in one
transaction, so a lost race leaves no slot behind.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from stratoflow.orchestration import TAG_SLOT_WAIT_SECONDS, Plan, plan_task_run
from stratoflow.orchestration.caching import cache_entry
from stratoflow.schemas import (
    DecisionStatus,
    OrchestrationResult,
    State,
    StateProposal,
    StateType,
    TaskRun,
)
from stratoflow_functions.services.proposals import (
    check_expected_version,
    replay_answer,
    retry_lost_races,
)
from stratoflow_functions.store import Store, TaskRunRecord


def propose_task_run_state(
    store: Store, task_run_id: UUID, proposal: StateProposal, now: datetime
) -> OrchestrationResult:
    """Answer a proposal for a task run and apply what the policy decided."""

    def attempt() -> OrchestrationResult:
        record = store.task_runs.get(task_run_id)
        replayed = replay_answer(record.last_transition_id, record.last_result, proposal)
        if replayed is not None:
            return replayed
        check_expected_version(record.run.version, proposal)
        return _plan_and_apply(store, record, proposal, now)

    return retry_lost_races(attempt, proposal, f"task run {task_run_id}")


def plan_proposal(
    store: Store, record: TaskRunRecord, proposed: State, now: datetime
) -> Plan[TaskRun]:
    """Read what the task-run rules need and plan; only a RUNNING proposal needs anything
    beyond the run (its flow run's state, its tags' limits, a cache entry)."""
    run = record.run
    lease_seconds = store.concurrency.lease_seconds
    if proposed.type is not StateType.RUNNING:
        return plan_task_run(
            run, proposed, now, held=record.held_slots, lease_seconds=lease_seconds
        )
    cache_key = proposed.cache_key or run.cache_key
    return plan_task_run(
        run,
        proposed,
        now,
        held=record.held_slots,
        flow_run_state=store.flow_runs.get(run.flow_run_id).run.state,
        tag_slots=store.concurrency.slots(run.tags, run.id, now),
        cached=store.cache.get(cache_key, now) if cache_key else None,
        lease_seconds=lease_seconds,
    )


def _plan_and_apply(
    store: Store, record: TaskRunRecord, proposal: StateProposal, now: datetime
) -> OrchestrationResult:
    plan = plan_proposal(store, record, proposal.state, now)
    if plan.run is None:
        return plan.answer()
    result = plan.answer()
    if not store.task_runs.apply(plan, transition_id=proposal.transition_id, result=result):
        return _slot_race_lost(record.run)
    remember_cached_result(store, plan.run)
    return result


def _slot_race_lost(run: TaskRun) -> OrchestrationResult:
    return OrchestrationResult(
        status=DecisionStatus.WAIT,
        state=run.state,
        version=run.version,
        delay_seconds=TAG_SLOT_WAIT_SECONDS,
        reason="a concurrency slot was taken by another task run; try again",
    )


def remember_cached_result(store: Store, run: TaskRun) -> None:
    """A completed run with a cache key and a persisted result feeds the cache (the kernel's
    `cache_entry` says which, for the offline orchestrator too)."""
    entry = cache_entry(run)
    if entry is not None:
        store.cache.put(*entry)
