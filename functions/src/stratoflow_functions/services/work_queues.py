"""Work queues and `claim`: agents take due runs, each run exactly once.

A claim reads the queue's due SCHEDULED runs and moves each to PENDING with a conditional
write on its version; two agents racing for a run both try, one wins, the other moves on.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from stratoflow.orchestration import ProposalContext, decide
from stratoflow.schemas import (
    ClaimedRun,
    ClaimRequest,
    ClaimResponse,
    Deployment,
    FlowRun,
    State,
    StateType,
    WorkQueue,
    WorkQueueUpdate,
)
from stratoflow_functions.errors import ConflictError, NotFoundError
from stratoflow_functions.services.flow_run_states import advance_flow_run, flow_run_view
from stratoflow_functions.services.run_slots import (
    give_back,
    queue_slot,
    set_slot_limit,
    slots_for,
    take_slots,
)
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
    deployments: dict[UUID | None, Deployment | None] = {}
    for candidate in candidates:
        if len(won) >= request.limit:
            break
        key = candidate.deployment_id
        if key not in deployments:  # candidates of one deployment share one read
            deployments[key] = _deployment_of(store, candidate)
        deployment = deployments[key]
        claimed = try_claim(store, candidate, request, now, slots_for(work_queue, deployment))
        if claimed is not None:
            won.append(ClaimedRun(flow_run=claimed, deployment=deployment))
    return ClaimResponse(runs=won)


def try_claim(
    store: Store,
    run: FlowRun,
    request: ClaimRequest,
    now: datetime,
    slots: list[str] | None = None,
) -> FlowRun | None:
    """Move one run to PENDING for this agent, holding `slots` (the queue's and deployment's
    limits); None if the rules, a full limit or a rival said no."""
    pending = State(type=StateType.PENDING, timestamp=now, message="Claimed by an agent")
    decision = decide(ProposalContext(run=flow_run_view(run), proposed=pending, now=now))
    if decision.state is None or decision.state.type is not StateType.PENDING:
        return None
    held = slots or []
    if not take_slots(store, run.id, held):
        return None
    claimed = advance_flow_run(run, decision, now).model_copy(
        update={"agent_id": request.agent_id, "heartbeat": now, "concurrency_slots": held}
    )
    try:
        store.flow_runs.save(claimed, expected_version=run.version)
    except ConflictError:
        give_back(store, run.id, held)
        return None
    return claimed


def _deployment_of(store: Store, run: FlowRun) -> Deployment | None:
    if run.deployment_id is None:
        return None
    try:
        return store.deployments.get(run.deployment_id)
    except NotFoundError:
        return None


def update_work_queue(store: Store, name: str, data: WorkQueueUpdate, now: datetime) -> WorkQueue:
    """Change a queue's settings; its concurrency limit applies from the next claim."""
    queue = store.work_queues.put(name, data, now)
    set_slot_limit(store, queue_slot(name), data.concurrency_limit, now)
    return queue
