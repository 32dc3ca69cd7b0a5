"""Work queues and `claim`: agents take due runs, each run exactly once.

A claim reads the queue's due SCHEDULED runs and moves each to PENDING with a conditional
write on its version; two agents racing for a run both try, one wins, the other moves on.
"""

from __future__ import annotations

from datetime import datetime

from stratoflow.schemas import (
    ClaimedRun,
    ClaimRequest,
    ClaimResponse,
    Deployment,
    FlowRun,
    State,
    StateType,
)
from stratoflow_functions.errors import ConflictError, NotFoundError
from stratoflow_functions.orchestration import ProposalContext, decide
from stratoflow_functions.services.flow_run_states import advance_flow_run, flow_run_view
from stratoflow_functions.store import Store

OVERSAMPLE = 3
"""Read this many candidates per wanted run, since racing agents take some of them."""


def claim_runs(store: Store, queue: str, request: ClaimRequest, now: datetime) -> ClaimResponse:
    """Claim up to `request.limit` due runs of `queue` for one agent."""
    work_queue = store.work_queues.get_or_create(queue, now)
    if work_queue.paused:
        return ClaimResponse(runs=[])
    candidates = store.flow_runs.due(
        queue, now, request.limit * OVERSAMPLE, infrastructure=request.infrastructure
    )
    won: list[ClaimedRun] = []
    for candidate in candidates:
        if len(won) >= request.limit:
            break
        claimed = try_claim(store, candidate, request, now)
        if claimed is not None:
            won.append(ClaimedRun(flow_run=claimed, deployment=_deployment_of(store, claimed)))
    return ClaimResponse(runs=won)


def try_claim(store: Store, run: FlowRun, request: ClaimRequest, now: datetime) -> FlowRun | None:
    """Move one run to PENDING for this agent; None if the rules or a rival said no."""
    pending = State(type=StateType.PENDING, timestamp=now, message="Claimed by an agent")
    decision = decide(ProposalContext(run=flow_run_view(run), proposed=pending, now=now))
    if decision.state is None or decision.state.type is not StateType.PENDING:
        return None
    claimed = advance_flow_run(run, decision, now).model_copy(
        update={"agent_id": request.agent_id, "heartbeat": now}
    )
    try:
        store.flow_runs.save(claimed, expected_version=run.version)
    except ConflictError:
        return None
    return claimed


def _deployment_of(store: Store, run: FlowRun) -> Deployment | None:
    if run.deployment_id is None:
        return None
    try:
        return store.deployments.get(run.deployment_id)
    except NotFoundError:
        return None
