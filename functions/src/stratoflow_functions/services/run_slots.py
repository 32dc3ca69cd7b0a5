"""Work-queue and deployment concurrency limits: how many of their flow runs may be active
(PENDING, RUNNING or CANCELLING) at once.

Each limit is a concurrency-limit item under a reserved tag (`work-queue:{name}`,
`deployment:{id}`) whose slot set holds the ids of the runs using it; a claim takes a slot with
one conditional write (the same mechanism as task tags), and a run gives its slots back when it
leaves the active states. The run records the slots it holds (`concurrency_slots`), so giving
them back needs no lookup.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from uuid import UUID

from stratoflow.schemas import Deployment, FlowRun, StateType, WorkQueue
from stratoflow_functions.errors import NotFoundError, UnprocessableError
from stratoflow_functions.store import Store

ACTIVE_STATES = frozenset({StateType.PENDING, StateType.RUNNING, StateType.CANCELLING})
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


def take_slots(store: Store, run_id: UUID, tags: list[str]) -> bool:
    """Take every slot or none (one conditional write each; False when any is full)."""
    taken: list[str] = []
    for tag in tags:
        try:
            won = store.concurrency.acquire(tag, run_id)
        except NotFoundError:
            won = True  # the limit was removed meanwhile: nothing to hold
        if not won:
            give_back(store, run_id, taken)
            return False
        taken.append(tag)
    return True


def give_back(store: Store, run_id: UUID, tags: list[str]) -> None:
    """Return slots (a no-op for slots not held)."""
    for tag in tags:
        store.concurrency.release(tag, run_id)


def leaving_active(before: FlowRun, after: FlowRun) -> list[str]:
    """The slots `before` held that `after` no longer needs (it left the active states)."""
    if not before.concurrency_slots or after.state.type in ACTIVE_STATES:
        return []
    return list(before.concurrency_slots)


def without_slots_when_inactive(run: FlowRun) -> FlowRun:
    """The run with its slot list cleared if its state no longer needs them."""
    if run.concurrency_slots and run.state.type not in ACTIVE_STATES:
        return run.model_copy(update={"concurrency_slots": []})
    return run
