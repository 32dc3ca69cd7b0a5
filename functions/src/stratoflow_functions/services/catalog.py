"""Flows and deployments: registering, updating, pausing."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from stratoflow.schemas import Deployment, DeploymentCreate, Flow, FlowCreate
from stratoflow_functions.errors import UnprocessableError
from stratoflow_functions.orchestration.schedule_budget import ScheduleError
from stratoflow_functions.orchestration.schedules import validate_schedule
from stratoflow_functions.services.limits import check_parameters, json_size
from stratoflow_functions.services.run_slots import deployment_slot, set_slot_limit
from stratoflow_functions.store import Store

MAX_INFRA_OVERRIDES_BYTES = 16 * 1024


def register_flow(store: Store, data: FlowCreate, now: datetime) -> tuple[Flow, bool]:
    """Register a flow by name (idempotent)."""
    return store.flows.create_or_get(data, now)


def upsert_deployment(
    store: Store, data: DeploymentCreate, now: datetime
) -> tuple[Deployment, bool]:
    """Create a deployment, or update the one with the same flow and name."""
    check_parameters(data.parameters)
    for entry in data.schedules:
        check_parameters(entry.parameters, field="schedule parameters")
        try:
            validate_schedule(entry.schedule, now)  # bounded work: see schedule_budget
        except ScheduleError as exc:
            raise UnprocessableError(str(exc), code="invalid_schedule") from exc
    if json_size(data.infra_overrides) > MAX_INFRA_OVERRIDES_BYTES:
        raise UnprocessableError(
            f"infra_overrides are over {MAX_INFRA_OVERRIDES_BYTES} bytes",
            code="infra_overrides_too_large",
        )
    flow = store.flows.get(data.flow_id)
    deployment, created = store.deployments.upsert(data, flow, now)
    set_slot_limit(store, deployment_slot(deployment.id), deployment.concurrency_limit, now)
    return deployment, created


def remove_deployment(store: Store, deployment_id: UUID, now: datetime) -> None:
    """Delete a deployment and its concurrency limit."""
    store.deployments.delete(deployment_id)
    set_slot_limit(store, deployment_slot(deployment_id), None, now)


def set_deployment_paused(
    store: Store, deployment_id: UUID, paused: bool, now: datetime
) -> Deployment:
    """Pause or resume a deployment's schedules."""
    return store.deployments.set_paused(deployment_id, paused, now)
