"""Proposing a task run's state. Like flow runs, plus what only task runs have: the parent flow
run must be RUNNING, tags may have concurrency limits (slots are taken with one conditional
write each), and a cache key may answer RUNNING with a stored result.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from stratoflow.orchestration import (
    Decision,
    ProposalContext,
    RunKind,
    RunView,
    TagSlots,
    decide,
)
from stratoflow.schemas import (
    DecisionStatus,
    OrchestrationResult,
    State,
    StateProposal,
    StateType,
    TaskRun,
)
from stratoflow_functions.errors import ConflictError
from stratoflow_functions.services.proposals import (
    check_expected_version,
    replay_answer,
    retry_lost_races,
    run_changes,
    unchanged_answer,
)
from stratoflow_functions.store import Store, TaskRunRecord

SLOT_WAIT_SECONDS = 5.0
"""How long a task waits before proposing again when it lost a race for a tag slot."""


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
        return _decide_and_apply(store, record, proposal, now)

    return retry_lost_races(attempt, proposal, f"task run {task_run_id}")


def task_run_context(
    store: Store, record: TaskRunRecord, proposed: State, now: datetime
) -> ProposalContext:
    """Read what the task-run rules need; only a RUNNING proposal needs anything beyond the run."""
    run = record.run
    view = task_run_view(run)
    if proposed.type is not StateType.RUNNING:
        return ProposalContext(run=view, proposed=proposed, now=now)
    flow_run = store.flow_runs.get(run.flow_run_id).run
    cache_key = proposed.cache_key or run.cache_key
    return ProposalContext(
        run=view,
        proposed=proposed,
        now=now,
        flow_run_state=flow_run.state,
        tag_slots=tag_slots(store, run.tags, run.id, record.held_slots),
        cached=store.cache.get(cache_key, now) if cache_key else None,
    )


def task_run_view(run: TaskRun) -> RunView:
    """What the rules see of a task run (retries are the engine's business for tasks)."""
    return RunView(kind=RunKind.TASK, state=run.state, version=run.version, run_count=run.run_count)


def tag_slots(
    store: Store, tags: list[str], task_run_id: UUID, held: tuple[str, ...]
) -> tuple[TagSlots, ...]:
    """The limits of this run's tags that have one, as read now."""
    if not tags:
        return ()
    return tuple(
        TagSlots(
            tag=limit.tag,
            limit=limit.limit,
            active=len(limit.active_slots),
            holds_slot=limit.tag in held or task_run_id in limit.active_slots,
        )
        for limit in store.concurrency.for_tags(tags)
    )


def advance_task_run(run: TaskRun, state: State, now: datetime) -> TaskRun:
    """The task run after `state` is applied (one version later)."""
    update = run_changes(run.state, run.run_count, run.start_time, state, now)
    if state.cache_key and not run.cache_key:
        update["cache_key"] = state.cache_key
    return run.model_copy(update={**update, "version": run.version + 1})


def _decide_and_apply(
    store: Store, record: TaskRunRecord, proposal: StateProposal, now: datetime
) -> OrchestrationResult:
    run = record.run
    decision = decide(task_run_context(store, record, proposal.state, now))
    if decision.state is None or decision.status in (DecisionStatus.WAIT, DecisionStatus.ABORT):
        return unchanged_answer(decision, run.state, run.version)
    held = _settle_slots(store, run.id, record.held_slots, decision)
    if held is None:
        return _slot_race_lost(run)
    updated = advance_task_run(run, decision.state, now)
    result = OrchestrationResult(
        status=decision.status,
        state=updated.state,
        version=updated.version,
        delay_seconds=decision.delay_seconds,
        reason=decision.reason,
    )
    try:
        store.task_runs.save(
            updated,
            expected_version=run.version,
            transition_id=proposal.transition_id,
            result=result,
            held_slots=held,
        )
    except ConflictError:
        # The run moved on without us: give back the slots this attempt took, or they leak.
        _release(store, run.id, set(held) - set(record.held_slots))
        raise
    remember_cached_result(store, updated)
    return result


def _release(store: Store, task_run_id: UUID, tags: set[str]) -> None:
    for tag in tags:
        store.concurrency.release(tag, task_run_id)


def _settle_slots(
    store: Store, task_run_id: UUID, held: tuple[str, ...], decision: Decision
) -> tuple[str, ...] | None:
    """Take or give back tag slots as decided; None when a slot was taken by someone else."""
    if decision.release_slots:
        _release(store, task_run_id, set(held))
        return ()
    taken: list[str] = []
    for tag in decision.acquire_slots:
        if tag in held or store.concurrency.acquire(tag, task_run_id):
            taken.append(tag)
            continue
        _release(store, task_run_id, set(taken))
        return None
    return tuple(sorted(set(held) | set(taken)))


def _slot_race_lost(run: TaskRun) -> OrchestrationResult:
    return OrchestrationResult(
        status=DecisionStatus.WAIT,
        state=run.state,
        version=run.version,
        delay_seconds=SLOT_WAIT_SECONDS,
        reason="a concurrency slot was taken by another task run; try again",
    )


def remember_cached_result(store: Store, run: TaskRun) -> None:
    """A completed run with a cache key and a persisted result feeds the cache."""
    state = run.state
    key = state.cache_key or run.cache_key
    if state.type is StateType.COMPLETED and state.name == "Completed" and key and state.result:
        store.cache.put(key, state.model_copy(update={"cache_key": key}))
