"""Work queues (created implicitly, settings by PUT) and agents (last heartbeat wins).

A queue's settings and its `created` time are written in one update: `created` only if absent,
so concurrent implicit creates and PUTs never lose the creation time or each other's item.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import TypeAdapter
from pynamodb.expressions.update import Action

from stratoflow.schemas import (
    MAX_PAGE_SIZE,
    Agent,
    AgentHeartbeat,
    Page,
    WorkQueue,
    WorkQueueUpdate,
)
from stratoflow.schemas.common import Name
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors
from stratoflow_functions.store.items import AgentItem, WorkQueueItem
from stratoflow_functions.store.keys import (
    AGENTS_PARTITION,
    WORK_QUEUES_PARTITION,
    agent_pk,
    parse_time,
    time_key,
    timed,
    work_queue_pk,
)
from stratoflow_functions.store.pages import Query, query_items, readable

WORK_QUEUE_SK = "WORK_QUEUE"
QUEUE_NAME: TypeAdapter[str] = TypeAdapter(Name)
AGENT_SK = "AGENT"


def _queue(item: WorkQueueItem) -> WorkQueue:
    settings = WorkQueueUpdate.model_validate_json(item.data or "{}")
    return WorkQueue(
        name=item.id or "", created=parse_time(item.created or ""), **settings.model_dump()
    )


class WorkQueueRepository:
    """Work queues by name, and listed by name."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx
        self._queues = ctx.models.work_queue

    def _write(self, name: str, settings: str, now: datetime, overwrite: bool) -> WorkQueue:
        QUEUE_NAME.validate_python(name)  # never store a name that `_queue` cannot read back
        item = self._queues
        target = item(work_queue_pk(name), WORK_QUEUE_SK)
        actions: list[Action] = [
            item.entity.set(item),  # an update writes only its actions: `entity` is one
            item.id.set(name),
            item.created.set(item.created | time_key(now)),
            item.data.set(settings if overwrite else item.data | settings),
            item.gsi1pk.set(WORK_QUEUES_PARTITION),
            item.gsi1sk.set(name),
        ]
        with dynamo_errors():
            target.update(actions=actions)
        return _queue(target)

    def get_or_create(self, name: str, now: datetime) -> WorkQueue:
        """The queue called `name`, created with default settings if new.

        Every claim asks for its queue, so a queue that exists is only read (one consistent
        GetItem): writing it on every poll made the queue's item a partition every agent's
        empty polls wrote to (docs/data-model.md, the load model).
        """
        found = self._ctx.find(work_queue_pk(name), WORK_QUEUE_SK, self._queues)
        if found is not None:
            return _queue(found)
        return self._write(name, WorkQueueUpdate().model_dump_json(), now, overwrite=False)

    def put(self, name: str, data: WorkQueueUpdate, now: datetime) -> WorkQueue:
        """Set the queue's settings, creating it if new."""
        return self._write(name, data.model_dump_json(), now, overwrite=True)

    def get(self, name: str) -> WorkQueue:
        """The queue called `name`.

        Raises:
            NotFoundError: No such queue.
        """
        found = self._ctx.fetch(work_queue_pk(name), WORK_QUEUE_SK, "work queue", self._queues)
        return _queue(found)

    def list(self, limit: int, next_token: str | None) -> Page[WorkQueue]:
        """Queues by name.

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        query = Query(WORK_QUEUES_PARTITION, "gsi1")
        items, token = query_items(self._queues, query, self._ctx.clock(), limit, next_token)
        return Page[WorkQueue](items=readable(items, _queue), next_token=token)

    def names(self) -> set[str]:
        """Every queue's name, all pages read (the scheduler's and the dispatcher's walk)."""
        names: set[str] = set()
        token: str | None = None
        while True:
            page = self.list(MAX_PAGE_SIZE, token)
            names.update(queue.name for queue in page.items)
            token = page.next_token
            if token is None:
                return names


class AgentRepository:
    """Agents by id, as last seen."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx

    def heartbeat(self, agent_id: UUID, data: AgentHeartbeat, now: datetime) -> Agent:
        """Record that the agent is alive (and what it serves)."""
        agent = Agent(id=agent_id, last_heartbeat=now, **data.model_dump())
        item = self._ctx.models.agent(
            agent_pk(agent_id),
            AGENT_SK,
            id=str(agent_id),
            work_queue=agent.work_queue,
            data=agent.model_dump_json(),
            gsi1pk=AGENTS_PARTITION,
            gsi1sk=timed(now, agent_id),
        )
        with dynamo_errors():
            item.save()
        return agent

    def list(self, limit: int, next_token: str | None) -> Page[Agent]:
        """Agents, the most recently seen first (agents that have not beaten since this
        index existed are listed from their next heartbeat).

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        cls = self._ctx.models.agent
        query = Query(AGENTS_PARTITION, "gsi1", newest_first=True)
        items, token = query_items(cls, query, self._ctx.clock(), limit, next_token)
        return Page[Agent](items=readable(items, _agent), next_token=token)


def _agent(item: AgentItem) -> Agent:
    return Agent.model_validate_json(item.data)
