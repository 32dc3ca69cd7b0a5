"""The Kubernetes and Vertex launcher's `launch` and `status`: build the job spec, hand it to
the infrastructure's JobBackend, and read back how it goes.

`launch` records the job's id on the run; `status` stops the job when the run is CANCELLING
(then CANCELLED), reports a job that ended without the run reaching a final state as CRASHED
with the backend's diagnosis (stopping a failed job first, so one stuck pulling its image does
not keep its pods), and otherwise says the job is not done.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from stratoflow.infrastructure.environment import image_for
from stratoflow.infrastructure.kubernetes import job_manifest
from stratoflow.infrastructure.settings import settings_for
from stratoflow.infrastructure.vertex import custom_job
from stratoflow.schemas import Deployment, InfrastructureType, StateType
from stratoflow_functions.launchers.backends import JobBackend
from stratoflow_functions.launchers.context import LauncherContext, LaunchError


def launch(ctx: LauncherContext, run_id: UUID) -> str:
    """Create the run's job; its infrastructure id, recorded on the run.

    Raises:
        LaunchError: No deployment, or no API URL configured.
    """
    run = ctx.run(run_id)
    deployment = ctx.deployment(run)
    infra_settings, backend = _backend(ctx, deployment)
    image = image_for(deployment, infra_settings)
    environment = ctx.environment(run, infra_settings.env)
    build = job_manifest if ctx.infrastructure is InfrastructureType.KUBERNETES else custom_job
    infrastructure_id = backend.launch(build(infra_settings, run, image, environment))
    ctx.record_infrastructure_id(run, infrastructure_id)
    return infrastructure_id


def status(ctx: LauncherContext, run_id: UUID, infrastructure_id: str | None) -> bool:
    """Whether the launcher is done with the run (see the module docstring)."""
    run = ctx.run(run_id)
    job_id = infrastructure_id or run.infrastructure_id
    if run.state.is_terminal:
        return True
    if job_id is None:
        raise LaunchError(f"flow run {run_id} has no job to watch")
    _, backend = _backend(ctx, ctx.deployment(run))
    if run.state.type is StateType.CANCELLING:
        backend.stop(job_id)
        ctx.propose(run_id, StateType.CANCELLED, "the job was stopped")
        return True
    job = backend.status(job_id)
    if not job.finished:
        return False
    if not job.succeeded:
        backend.stop(job_id)  # a Job stuck in ImagePullBackOff still exists: free its pods
    reason = job.reason or "the job ended before the run reached a final state"
    ctx.propose(run_id, StateType.CRASHED, f"{ctx.infrastructure.value} launch: {reason}")
    return True


def _backend(ctx: LauncherContext, deployment: Deployment) -> tuple[Any, JobBackend]:
    """The deployment's validated settings and the backend built for them."""
    infra_settings = settings_for(ctx.infrastructure, deployment.infra_overrides)
    return infra_settings, ctx.backends(ctx.infrastructure, ctx.settings, infra_settings)
