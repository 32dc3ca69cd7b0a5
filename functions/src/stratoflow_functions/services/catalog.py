"""Flows and deployments: registering, updating, pausing.

Creating, updating or resuming a deployment schedules it at once (the scheduler's step for that
one deployment, `schedule_deployment`), so its first runs exist when the API answers; the
scheduler's tick stays the safety net for anything this leaves (a budget, a failed write).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from stratoflow.infrastructure import InfraSettingsError, settings_for
from stratoflow.schemas import (
    CodeBundle,
    CodeSource,
    Deployment,
    DeploymentCreate,
    Flow,
    FlowCreate,
)
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import UnprocessableError
from stratoflow_functions.scheduling.schedule_budget import ScheduleError
from stratoflow_functions.scheduling.schedules import validate_schedule
from stratoflow_functions.services.limits import check_parameters, json_size
from stratoflow_functions.services.parameter_checks import (
    check_deployment_parameters,
    check_parameter_schema,
)
from stratoflow_functions.services.run_slots import deployment_slot, set_slot_limit
from stratoflow_functions.services.towel.scheduler import schedule_deployment
from stratoflow_functions.store import Store
from stratoflow_functions.store.code_bundles import bundle_key

MAX_INFRA_OVERRIDES_BYTES = 16 * 1024


def register_flow(store: Store, data: FlowCreate, now: datetime) -> tuple[Flow, bool]:
    """Register a flow by name (idempotent)."""
    return store.flows.create_or_get(data, now)


def upsert_deployment(
    store: Store,
    data: DeploymentCreate,
    now: datetime,
    *,
    code_bucket: str | None = None,
    settings: Settings | None = None,
) -> tuple[Deployment, bool]:
    """Create a deployment, or update the one with the same flow and name; with `settings`,
    its schedules' first runs are created before this returns.

    Args:
        store: the store.
        data: the deployment.
        now: the current time.
        code_bucket: the stack's code bucket, the only place a bundle may come from (None: no
            bundle is accepted, only images).
        settings: the scheduler's run bounds; None leaves the scheduling to the next tick.

    Raises:
        UnprocessableError: a bad schedule, code that is not in the code bucket, or
            infra_overrides its infrastructure's settings refuse (422).
        PayloadTooLargeError: parameters, parameter_schema or infra_overrides over their limits
            (413); parameters that do not fit the parameter_schema are `invalid_parameters`.
    """
    check_code_source(data.code, code_bucket)
    check_parameters(data.parameters)
    check_parameter_schema(data.parameter_schema)
    check_deployment_parameters(data)
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
    check_infra_settings(data)
    flow = store.flows.get(data.flow_id)
    deployment, created = store.deployments.upsert(data, flow, now)
    set_slot_limit(store, deployment_slot(deployment.id), deployment.concurrency_limit, now)
    # the push dispatcher finds due runs queue by queue: a push deployment's queue must exist
    # even if no agent ever polls it
    store.work_queues.get_or_create(deployment.work_queue, now)
    if settings is not None and deployment.schedules:
        schedule_deployment(store, settings, deployment, now)
    return deployment, created


def check_infra_settings(data: DeploymentCreate) -> None:
    """Refuse `infra_overrides` that the infrastructure's settings model does not accept.

    Raises:
        UnprocessableError: `invalid_infra_settings`, the message naming the field (422).
    """
    try:
        settings_for(data.infrastructure, data.infra_overrides)
    except InfraSettingsError as exc:
        raise UnprocessableError(exc.message, code="invalid_infra_settings") from exc


def check_code_source(code: CodeSource | None, code_bucket: str | None) -> None:
    """Refuse a bundle stored anywhere but the code bucket under its content hash.

    An agent fetches a bundle by its hash through `GET /code-bundles/{sha256}`; a URI that names
    anything else (`file:///etc`, another bucket) would be a lie at best, and at worst a way to
    make an agent run files from its own disk. Images are checked by the schema.

    Raises:
        UnprocessableError: the bundle's URI is not `s3://<code bucket>/bundles/<sha256>.zip`.
    """
    if not isinstance(code, CodeBundle):
        return
    if code_bucket is None:
        raise UnprocessableError("this stack has no code bucket", code="invalid_code_source")
    expected = f"s3://{code_bucket}/{bundle_key(code.sha256)}"
    if code.uri != expected:
        raise UnprocessableError(
            f"code.uri must be {expected} (the URI POST /code-bundles answers for this sha256), "
            f"not {code.uri!r}",
            code="invalid_code_source",
        )


def remove_deployment(store: Store, deployment_id: UUID, now: datetime) -> None:
    """Delete a deployment and its concurrency limit."""
    store.deployments.delete(deployment_id)
    set_slot_limit(store, deployment_slot(deployment_id), None, now)


def set_deployment_paused(
    store: Store,
    deployment_id: UUID,
    paused: bool,
    now: datetime,
    *,
    settings: Settings | None = None,
) -> Deployment:
    """Pause or resume a deployment's schedules; with `settings`, a resumed deployment's next
    runs are created before this returns."""
    deployment = store.deployments.set_paused(deployment_id, paused, now)
    if settings is not None and not paused and deployment.schedules:
        schedule_deployment(store, settings, deployment, now)
    return deployment
