"""Closing the task runs a flow run's ended attempt left open (`orchestration.attempts` says
when, and into which state).

The flow run's own write comes first; this is the follow-up, bounded by the flow run's task
runs: one paged read of them (100 a page) and one proposal, through the task-run policy, for
each that is not final. It is idempotent: a task run that finished meanwhile is refused
(terminal states are final) and left as it is, and a second pass finds nothing open. Throttling
propagates (429), so the proposer retries its proposal and the replay runs the follow-up again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from uuid import UUID

from stratoflow.orchestration.attempts import left_over_task_state
from stratoflow.schemas import DecisionStatus, State, StateProposal, TaskRun
from stratoflow_functions.errors import ConflictError, NotFoundError
from stratoflow_functions.services.task_run_states import propose_task_run_state
from stratoflow_functions.store import Store

PAGE_SIZE = 100


def close_left_over_task_runs(
    store: Store, flow_run_id: UUID, flow_state: State, now: datetime
) -> int:
    """Give every task run of the flow run not in a final state its left-over state.

    Args:
        store: The control plane's store.
        flow_run_id: The flow run whose attempt is over.
        flow_state: The flow run's state that ended the attempt (or began the next one).
        now: The current time.

    Returns:
        How many task runs this call closed.

    Raises:
        ThrottledError: The store is throttling; the proposal that called this is retried.
    """
    state = left_over_task_state(flow_state, now)
    return sum(_close(store, task.id, state, now) for task in _open_task_runs(store, flow_run_id))


def _open_task_runs(store: Store, flow_run_id: UUID) -> Iterator[TaskRun]:
    token: str | None = None
    while True:
        page = store.task_runs.list_for_flow_run(flow_run_id, PAGE_SIZE, token)
        yield from (task for task in page.items if not task.state.is_terminal)
        token = page.next_token
        if token is None:
            return


def _close(store: Store, task_run_id: UUID, state: State, now: datetime) -> bool:
    try:
        answer = propose_task_run_state(store, task_run_id, StateProposal(state=state), now)
    except (ConflictError, NotFoundError):
        return False  # it kept moving, or is gone: whoever moved it owns it now
    return answer.status is DecisionStatus.ACCEPT
