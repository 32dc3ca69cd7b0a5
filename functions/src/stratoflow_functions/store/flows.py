"""Flows: registered once per name (the id is derived from the name), listed by name."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from stratoflow.schemas import Flow, FlowCreate, Page
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.items import FlowItem
from stratoflow_functions.store.keys import FLOWS_PARTITION, flow_id_for, flow_pk
from stratoflow_functions.store.pages import Query, query_items, readable

FLOW_SK = "FLOW"


class FlowRepository:
    """Flows by id and by name."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx
        self._flows = ctx.models.flow

    def _item(self, flow: Flow) -> FlowItem:
        return self._flows(
            flow_pk(flow.id),
            FLOW_SK,
            id=str(flow.id),
            data=flow.model_dump_json(),
            gsi1pk=FLOWS_PARTITION,
            gsi1sk=flow.name,
        )

    def create_or_get(self, data: FlowCreate, now: datetime) -> tuple[Flow, bool]:
        """Register a flow by name, or return the flow registered under that name.

        Returns:
            The flow and whether this call created it.
        """
        flow = Flow(id=flow_id_for(data.name), name=data.name, tags=data.tags, created=now)
        if self._ctx.put_if_absent(self._item(flow)):
            return flow, True
        return self.get(flow.id), False

    def get(self, flow_id: UUID) -> Flow:
        """The flow with this id.

        Raises:
            NotFoundError: No such flow.
        """
        return _flow(self._ctx.fetch(flow_pk(flow_id), FLOW_SK, "flow", self._flows))

    def list(self, limit: int, next_token: str | None) -> Page[Flow]:
        """Flows ordered by name.

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        query = Query(FLOWS_PARTITION, "gsi1")
        items, token = query_items(self._flows, query, self._ctx.clock(), limit, next_token)
        return Page[Flow](items=readable(items, _flow), next_token=token)


def _flow(item: FlowItem) -> Flow:
    return Flow.model_validate_json(item.data or "{}")
