"""Work queues and `claim`: agents take due runs, each run exactly once.

A claim reads the queue's due SCHEDULED runs and, for each, the queue's and deployment's
limits; the kernel's `plan_claim` moves the run to PENDING holding a lease on a slot of each,
and the store applies the run's write (conditional on its version) and the slot takes
(conditional on each limit's lease version) in one transaction. Two agents racing for a run,
or for a limit's last slot, both try; one wins, the other moves on.

A claim with `due_before` (an agent's prefetch window, at most `MAX_CLAIM_AHEAD_SECONDS` ahead
of this clock) also takes runs due by then: they go PENDING before their scheduled time, and the
run's process waits for it (`stratoflow execute`), so the flow starts on time, not a poll late.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from stratoflow.orchestration import plan_claim
from stratoflow.schemas import (
    ClaimedRun,
    ClaimRequest,
    ClaimResponse,
    Deployment,
    FlowRun,
    WorkQueue,
    WorkQueueUpdate,
)
from stratoflow_functions.errors import ConflictError, NotFoundError, UnprocessableError
from stratoflow_functions.services.run_slots import queue_slot, set_slot_limit, slots_for
from stratoflow_functions.store import Store

OVERSAMPLE = 3
"""Read this many candidates per wanted run, since racing agents take some of them."""
MAX_CLAIM_AHEAD_SECONDS = 60.0
"""How far ahead of the server's clock a claim's `due_before` may reach."""


def claim_horizon(request: ClaimRequest, now: datetime) -> datetime:
    """The latest due time this claim takes: `due_before` if later than `now`, else `now`.

    Raises:
        UnprocessableError: `invalid_due_before`, more than `MAX_CLAIM_AHEAD_SECONDS` ahead.
    """
    if request.due_before is None or request.due_before <= now:
        return now
    if request.due_before > now + timedelta(seconds=MAX_CLAIM_AHEAD_SECONDS):
        raise UnprocessableError(
            f"due_before may be at most {MAX_CLAIM_AHEAD_SECONDS:.0f} s after the server's "
            f"time ({now.isoformat()}), not {request.due_before.isoformat()}",
            code="invalid_due_before",
        )
    return request.due_before


def claim_runs(store: Store, queue: str, request: ClaimRequest, now: datetime) -> ClaimResponse:
    """Claim up to `request.limit` runs of `queue` due by `request.due_before` (else now)
    for one agent.

    Raises:
        UnprocessableError: `invalid_due_before` (see `claim_horizon`), before anything is read.
    """
    horizon = claim_horizon(request, now)
    work_queue = store.work_queues.get_or_create(queue, now)
    if work_queue.paused:
        return ClaimResponse(runs=[])
    candidates = store.flow_runs.due(
        queue, horizon, request.limit * OVERSAMPLE, infrastructure=request.infrastructure
    )
    won: list[ClaimedRun] = []
    deployments: dict[UUID | None, Deployment | None] = {}
    full: set[str] = set()
    for candidate in candidates:
        if len(won) >= request.limit:
            break
        key = candidate.deployment_id
        if key not in deployments:  # candidates of one deployment share one read
            deployments[key] = _deployment_of(store, candidate)
        deployment = deployments[key]
        tags = slots_for(work_queue, deployment)
        if full.intersection(tags):
            continue  # a limit this claim found full stays full for its other candidates
        claimed = try_claim(store, candidate, request, now, tags, full, ahead_until=horizon)
        if claimed is not None:
            won.append(ClaimedRun(flow_run=claimed, deployment=deployment))
    return ClaimResponse(runs=won)


def try_claim(
    store: Store,
    run: FlowRun,
    request: ClaimRequest,
    now: datetime,
    tags: list[str],
    full: set[str],
    *,
    ahead_until: datetime | None = None,
) -> FlowRun | None:
    """Move one run to PENDING for this agent, holding a lease on a slot of each limit behind
    `tags` (the queue's and deployment's reserved tags), all in one transaction; None if the
    rules, a full limit or a rival said no. Limits found full are added to `full`. A run due
    by `ahead_until` may be claimed before its time (a prefetching agent)."""
    limits = store.concurrency.slots(tags, run.id, now) if tags else ()
    plan = plan_claim(
        run,
        now,
        agent_id=request.agent_id,
        slots=limits,
        lease_seconds=store.concurrency.lease_seconds,
        ahead_until=ahead_until,
    )
    full.update(limit.tag for limit in limits if not limit.available)
    if plan.run is None:
        return None
    try:
        applied = store.flow_runs.apply(plan)
    except ConflictError:
        return None  # a rival claimed it first
    return plan.run if applied else None


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
