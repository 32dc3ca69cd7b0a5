"""Work-queue and deployment concurrency limits: how many of their flow runs may be active
(PENDING, RUNNING or CANCELLING) at once.

Each limit is a concurrency-limit item under a reserved tag (`work-queue:{name}`,
`deployment:{id}`), the same kind of item as a task tag's limit. A claim's plan takes a lease
on a slot of each (`stratoflow.orchestration.plan_claim`), and the plan that moves the run out
of the active states gives them back; the run records the slots it holds
(`concurrency_slots`), so giving them back needs no lookup.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from uuid import UUID

from stratoflow.schemas import Deployment, WorkQueue
from stratoflow_functions.errors import NotFoundError, UnprocessableError
from stratoflow_functions.store import Store

RESERVED_PREFIXES = ("work-queue:", "deployment:")


def queue_slot(name: str) -> str:
    """The reserved tag of a work queue's limit."""
    return f"work-queue:{name}"


def deployment_slot(deployment_id: UUID) -> str:
    """The reserved tag of a deployment's limit."""
    return f"deployment:{deployment_id}"


def check_user_tag(tag: str) -> None:
    """Refuse a tag the API manages itself (422)."""
    if tag.startswith(RESERVED_PREFIXES):
        raise UnprocessableError(
            f"tags starting with {' or '.join(RESERVED_PREFIXES)} are managed through their "
            "work queue or deployment",
            code="reserved_tag",
        )


def set_slot_limit(store: Store, tag: str, limit: int | None, now: datetime) -> None:
    """Set, or with None remove, the limit behind a reserved tag."""
    if limit is not None:
        store.concurrency.put(tag, limit, now)
        return
    with contextlib.suppress(NotFoundError):
        store.concurrency.delete(tag)


def slots_for(queue: WorkQueue, deployment: Deployment | None) -> list[str]:
    """The reserved tags a run of this queue and deployment must hold while active."""
    tags = [queue_slot(queue.name)] if queue.concurrency_limit is not None else []
    if deployment is not None and deployment.concurrency_limit is not None:
        tags.append(deployment_slot(deployment.id))
    return tags
