"""What the three Towel services share: bounded paging, race-tolerant proposals.

Every state change goes through `propose_flow_run_state` / `propose_task_run_state` as
`Proposer.CONTROL_PLANE`, with the version the service read as `expected_version`, so a run
that moved since (a heartbeat that bumped its state, a rival invocation) is skipped, never
overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from uuid import UUID

from stratoflow.orchestration import Proposer
from stratoflow.schemas import (
    DecisionStatus,
    FlowRun,
    OrchestrationResult,
    Page,
    State,
    StateProposal,
    StateType,
)
from stratoflow_functions.errors import ConflictError, NotFoundError, ThrottledError
from stratoflow_functions.services.flow_run_states import propose_flow_run_state
from stratoflow_functions.store import Store
from stratoflow_functions.store.run_items import heartbeat_mark

PAGE_SIZE = 100
NO_HEARTBEAT = "No heartbeat detected"
ACTIVE_TASK_STATES = frozenset({StateType.PENDING, StateType.RUNNING})

Pager = Callable[[int, str | None], Page[FlowRun]]


def bounded(pager: Pager, budget: int, page_size: int = PAGE_SIZE) -> Iterator[FlowRun]:
    """Items of a paged list, at most `budget` of them (the rest wait for the next tick)."""
    token: str | None = None
    left = budget
    while left > 0:
        page = pager(min(page_size, left), token)
        yield from page.items
        left -= len(page.items)
        token = page.next_token
        if token is None:
            return


def still_stale(
    store: Store, run: FlowRun, state_type: StateType, cutoff: datetime
) -> FlowRun | None:
    """The run re-read consistently, if it is still in `state_type` with no heartbeat since
    `cutoff` (the heartbeat index is eventually consistent, and heartbeats never bump the
    version a proposal is conditional on)."""
    try:
        fresh = store.flow_runs.get(run.id).run
    except NotFoundError:
        return None
    if fresh.state.type is not state_type or heartbeat_mark(fresh) >= cutoff:
        return None
    return fresh


def propose_flow(store: Store, run: FlowRun, state: State, now: datetime) -> bool:
    """Propose `state` for `run` at the version read; True when the run took exactly it."""
    proposal = StateProposal(state=state, expected_version=run.version)
    try:
        result = propose_flow_run_state(
            store, run.id, proposal, now, proposer=Proposer.CONTROL_PLANE
        )
    except (ConflictError, NotFoundError, ThrottledError):
        return False  # lost a race: someone else moved the run; next tick sees the truth
    return _took(result, state)


def _took(result: OrchestrationResult, state: State) -> bool:
    return (
        result.status is DecisionStatus.ACCEPT
        and result.state is not None
        and (result.state.type, result.state.name) == (state.type, state.name)
    )


def heartbeat_cutoff(now: datetime, seconds: float) -> datetime:
    """Heartbeats before this are stale."""
    return now - timedelta(seconds=seconds)


def has_active_task_runs(store: Store, flow_run_id: UUID) -> bool:
    """Whether any task run of the flow run is PENDING or RUNNING (reads every page)."""
    token: str | None = None
    while True:
        page = store.task_runs.list_for_flow_run(flow_run_id, PAGE_SIZE, token)
        if any(task.state.type in ACTIVE_TASK_STATES for task in page.items):
            return True
        token = page.next_token
        if token is None:
            return False
