"""The launcher Lambda's actions (DESIGN10 section 2): claim, prepare (ECS), launch and status
(Kubernetes, Vertex), settle. Each is idempotent, since Step Functions retries a Lambda task
after a service error: a repeated claim by the same launcher answers `claimed`, a repeated
launch finds the job already there, a repeated settle finds the run already final.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from stratoflow.schemas import ClaimRequest, StateType
from stratoflow_functions.errors import NotFoundError
from stratoflow_functions.launchers.context import LauncherContext
from stratoflow_functions.launchers.diagnosis import diagnose_failure, diagnose_task
from stratoflow_functions.launchers.ecs_prepare import prepare
from stratoflow_functions.launchers.jobs import launch, status
from stratoflow_functions.launchers.names import launcher_agent_id
from stratoflow_functions.services.run_slots import slots_for
from stratoflow_functions.services.work_queues import try_claim

ClaimOutcome = Literal["claimed", "wait", "gone"]


class LauncherEvent(BaseModel):
    """What a launcher state machine sends its Lambda."""

    model_config = ConfigDict(extra="ignore")

    action: Literal["claim", "prepare", "launch", "status", "settle"]
    flow_run_id: UUID
    infrastructure_id: str | None = None
    """status: the job `launch` answered."""
    task: dict[str, Any] | None = None
    """settle (ECS): the stopped task, as `ecs:runTask.sync` hands it on."""
    failure: dict[str, Any] | None = None
    """settle: a caught failure, `{"Error", "Cause"}`."""
    execution: str | None = None
    """claim: the execution's ARN, recorded on the run it claims (what a cancel stops until
    the run records the task ARN it runs in)."""


def answer(ctx: LauncherContext, event: LauncherEvent) -> dict[str, Any]:
    """Run one action; its answer (see each action for the shape)."""
    run_id = event.flow_run_id
    if event.action == "claim":
        return {"outcome": claim(ctx, run_id, event.execution)}
    if event.action == "prepare":
        return {"request": prepare(ctx, run_id)}
    if event.action == "launch":
        return {"infrastructure_id": launch(ctx, run_id)}
    if event.action == "status":
        return {"done": status(ctx, run_id, event.infrastructure_id)}
    return {"state": settle(ctx, run_id, task=event.task, failure=event.failure)}


def claim(ctx: LauncherContext, run_id: UUID, execution: str | None = None) -> ClaimOutcome:
    """SCHEDULED -> PENDING for this launcher, holding the queue's and deployment's slots, with
    the `execution` ARN as the run's infrastructure id (in the same write): `claimed`; `wait`
    while it stays SCHEDULED behind a full limit or a paused queue (the machine waits and
    claims again); `gone` for anything else (a rival claimed it, it was cancelled or
    deleted)."""
    agent = launcher_agent_id(ctx.infrastructure)
    try:
        run = ctx.run(run_id)
    except NotFoundError:
        return "gone"
    if run.state.type is StateType.PENDING and run.agent_id == agent:
        return "claimed"  # a retried claim that had already won
    if run.state.type is not StateType.SCHEDULED:
        return "gone"
    now = ctx.clock()
    queue = ctx.store.work_queues.get_or_create(run.work_queue or "default", now)
    if queue.paused:
        return "wait"
    deployment = ctx.deployment(run) if run.deployment_id else None
    if execution is not None:
        run = run.model_copy(update={"infrastructure_id": execution})
    claimed = try_claim(
        ctx.store, run, ClaimRequest(agent_id=agent), now, slots_for(queue, deployment), set()
    )
    if claimed is not None:
        return "claimed"
    return _after_lost_claim(ctx, run_id)


def _after_lost_claim(ctx: LauncherContext, run_id: UUID) -> ClaimOutcome:
    """Still SCHEDULED (a full limit, or a write that raced a rival's): try again later."""
    try:
        still = ctx.run(run_id).state.type is StateType.SCHEDULED
    except NotFoundError:
        return "gone"
    return "wait" if still else "gone"


def settle(
    ctx: LauncherContext,
    run_id: UUID,
    *,
    task: dict[str, Any] | None = None,
    failure: dict[str, Any] | None = None,
) -> str:
    """After the infrastructure ended (the ECS task stopped, the runner returned, a failure
    was caught): CANCELLING -> CANCELLED; a run not final -> CRASHED with the diagnosis. The
    run's state type after it."""
    try:
        run = ctx.run(run_id)
    except NotFoundError:
        return "gone"
    arn = (task or {}).get("TaskArn") or (task or {}).get("taskArn")
    if isinstance(arn, str):
        ctx.record_infrastructure_id(run, arn)
    if run.state.type is StateType.CANCELLING:
        run = ctx.propose(run_id, StateType.CANCELLED, "the infrastructure was stopped")
    elif not run.state.is_terminal:
        run = ctx.propose(run_id, StateType.CRASHED, crash_reason(ctx, task, failure))
    return run.state.type.value


def crash_reason(
    ctx: LauncherContext, task: dict[str, Any] | None, failure: dict[str, Any] | None
) -> str:
    """Why a run that did not reach a final state crashed, in words."""
    if failure is not None:
        reason = diagnose_failure(failure.get("Error"), failure.get("Cause"))
    elif task is not None:
        reason = diagnose_task(task)
    else:
        reason = "the runner returned before the run reached a final state"
    return f"{ctx.infrastructure.value} launch: {reason}"
