"""Deployments: upserted by (flow, name), with optimistic concurrency on a `version` attribute.

The id is `uuid5(flow.id, name)`, so finding a deployment by (flow name, name) is a derivation
and one consistent read, not an index lookup. Changes read the item, compute the new deployment
and write it conditional on the version they read, retrying a few times if a concurrent deploy
or pause got in between (so no update is ever lost).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from pynamodb.exceptions import DeleteError, PutError

from stratoflow.schemas import Deployment, DeploymentCreate, Flow, Page
from stratoflow_functions.errors import ConflictError, NotFoundError
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors, is_condition_failure
from stratoflow_functions.store.items import DeploymentItem
from stratoflow_functions.store.keys import (
    DEPLOYMENTS_PARTITION,
    deployment_id_for,
    deployment_pk,
    flow_deployments_partition,
    flow_id_for,
)
from stratoflow_functions.store.pages import Query, query_items, readable
from stratoflow_functions.store.schedules import assign_schedule_ids

DEPLOYMENT_SK = "DEPLOYMENT"
MAX_ATTEMPTS = 5

Change = Callable[[Deployment | None], Deployment]


def merge_deployment(
    deployment_id: UUID,
    data: DeploymentCreate,
    flow: Flow,
    existing: Deployment | None,
    now: datetime,
) -> Deployment:
    """The deployment after deploying `data` over `existing` (keeps `created`, schedule ids)."""
    schedules = assign_schedule_ids(
        deployment_id, data.schedules, existing.schedules if existing else []
    )
    fields = data.model_dump(exclude={"schedules", "flow_id"})
    return Deployment(
        **fields,
        id=deployment_id,
        flow_id=flow.id,
        flow_name=flow.name,
        schedules=schedules,
        created=existing.created if existing else now,
        updated=now,
    )


class DeploymentRepository:
    """Deployments by id, by (flow name, name), and listed."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx
        self._deployments = ctx.models.deployment

    def upsert(self, data: DeploymentCreate, flow: Flow, now: datetime) -> tuple[Deployment, bool]:
        """Create the deployment, or update it in place.

        Returns:
            The stored deployment and whether this call created it.

        Raises:
            ConflictError: `version_conflict` if concurrent changes kept winning.
        """
        deployment_id = deployment_id_for(flow.id, data.name)
        created = False

        def change(existing: Deployment | None) -> Deployment:
            nonlocal created
            created = existing is None
            return merge_deployment(deployment_id, data, flow, existing, now)

        return self._change(deployment_id, change), created

    def get(self, deployment_id: UUID) -> Deployment:
        """The deployment with this id.

        Raises:
            NotFoundError: No such deployment.
        """
        pk = deployment_pk(deployment_id)
        return _deployment(self._ctx.fetch(pk, DEPLOYMENT_SK, "deployment", self._deployments))

    def get_by_name(self, flow_name: str, name: str) -> Deployment:
        """The deployment `name` of the flow called `flow_name`.

        Raises:
            NotFoundError: No such deployment.
        """
        return self.get(deployment_id_for(flow_id_for(flow_name), name))

    def set_paused(self, deployment_id: UUID, paused: bool, now: datetime) -> Deployment:
        """Pause or resume a deployment.

        Raises:
            NotFoundError: No such deployment.
        """

        def change(existing: Deployment | None) -> Deployment:
            if existing is None:
                raise NotFoundError("deployment not found")
            return existing.model_copy(update={"paused": paused, "updated": now})

        return self._change(deployment_id, change)

    def delete(self, deployment_id: UUID) -> None:
        """Delete a deployment (its runs stay).

        Raises:
            NotFoundError: No such deployment.
        """
        target = self._deployments(deployment_pk(deployment_id), DEPLOYMENT_SK)
        try:
            with dynamo_errors():
                target.delete(condition=self._deployments.pk.exists())
        except DeleteError as exc:
            if is_condition_failure(exc):
                raise NotFoundError("deployment not found") from exc
            raise

    def _change(self, deployment_id: UUID, change: Change) -> Deployment:
        for _ in range(MAX_ATTEMPTS):
            stored = self._ctx.find(deployment_pk(deployment_id), DEPLOYMENT_SK, self._deployments)
            existing = None if stored is None else _deployment(stored)
            updated = change(existing)
            version = None if stored is None else int(stored.version or 0)
            if self._write(updated, version):
                return updated
        raise ConflictError("deployment changed concurrently; retry", code="version_conflict")

    def _write(self, deployment: Deployment, version: int | None) -> bool:
        item = self._deployments
        condition = item.pk.does_not_exist() if version is None else item.version == version
        try:
            with dynamo_errors():
                self._item(deployment, (version or 0) + 1).save(condition=condition)
        except PutError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def _item(self, deployment: Deployment, version: int) -> DeploymentItem:
        return self._deployments(
            deployment_pk(deployment.id),
            DEPLOYMENT_SK,
            id=str(deployment.id),
            flow_id=str(deployment.flow_id),
            flow_name=deployment.flow_name,
            version=version,
            data=deployment.model_dump_json(),
            gsi1pk=DEPLOYMENTS_PARTITION,
            gsi1sk=f"{deployment.flow_name}#{deployment.name}",
            gsi2pk=flow_deployments_partition(deployment.flow_id),
            gsi2sk=deployment.name,
        )

    def list(
        self, limit: int, next_token: str | None, flow_id: UUID | None = None
    ) -> Page[Deployment]:
        """Deployments by (flow name, name), or one flow's deployments by name.

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        if flow_id is None:
            query = Query(DEPLOYMENTS_PARTITION, "gsi1")
        else:
            query = Query(flow_deployments_partition(flow_id), "gsi2")
        items, token = query_items(self._deployments, query, self._ctx.clock(), limit, next_token)
        return Page[Deployment](items=readable(items, _deployment), next_token=token)


def _deployment(item: DeploymentItem) -> Deployment:
    return Deployment.model_validate_json(item.data or "{}")
