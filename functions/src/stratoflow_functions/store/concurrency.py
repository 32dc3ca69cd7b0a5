"""Tag concurrency limits and their slots: acquiring a slot is one conditional update.

The item of a tag holds `slot_limit` and the string set `slots` of task-run ids holding a slot.
`acquire` adds an id iff the set is smaller than the limit or already holds it; `release`
removes it. Neither reads first, so two task runs racing for the last slot cannot both win.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action

from stratoflow.schemas import ConcurrencyLimit, Page
from stratoflow_functions.errors import NotFoundError
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors, is_condition_failure
from stratoflow_functions.store.keys import (
    CONCURRENCY_PARTITION,
    concurrency_pk,
    parse_time,
    time_key,
)
from stratoflow_functions.store.models import StoreItem
from stratoflow_functions.store.pages import Query, query_items, readable

CONCURRENCY_SK = "CONCURRENCY"


def _limit(item: StoreItem) -> ConcurrencyLimit:
    return ConcurrencyLimit(
        tag=item.tag or "",
        limit=int(item.slot_limit or 0),
        active_slots=sorted(UUID(slot) for slot in item.slots or ()),
        created=parse_time(item.created or ""),
    )


class ConcurrencyRepository:
    """Concurrency limits by tag, and the slots task runs hold."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx

    def put(self, tag: str, limit: int, now: datetime) -> ConcurrencyLimit:
        """Set the limit of `tag` (keeping the slots held and the creation time)."""
        item = self._ctx.item
        target = item(concurrency_pk(tag), CONCURRENCY_SK)
        actions: list[Action] = [
            item.entity.set("concurrency_limit"),
            item.tag.set(tag),
            item.slot_limit.set(limit),
            item.created.set(item.created | time_key(now)),
            item.gsi1pk.set(CONCURRENCY_PARTITION),
            item.gsi1sk.set(tag),
        ]
        with dynamo_errors():
            target.update(actions=actions)
        return _limit(target)

    def get(self, tag: str) -> ConcurrencyLimit:
        """The limit of `tag`.

        Raises:
            NotFoundError: The tag has no limit.
        """
        return _limit(self._ctx.fetch(concurrency_pk(tag), CONCURRENCY_SK, "concurrency limit"))

    def delete(self, tag: str) -> None:
        """Remove the limit of `tag` (and its slots).

        Raises:
            NotFoundError: The tag has no limit.
        """
        target = self._ctx.item(concurrency_pk(tag), CONCURRENCY_SK)
        try:
            with dynamo_errors():
                target.delete(condition=self._ctx.item.pk.exists())
        except DeleteError as exc:
            if is_condition_failure(exc):
                raise NotFoundError("concurrency limit not found") from exc
            raise

    def for_tags(self, tags: list[str]) -> list[ConcurrencyLimit]:
        """The limits of those `tags` that have one, in the order of `tags`."""
        wanted = list(dict.fromkeys(tags))
        if not wanted:
            return []
        keys = [(concurrency_pk(tag), CONCURRENCY_SK) for tag in wanted]
        with dynamo_errors():
            found = {i.tag: _limit(i) for i in self._ctx.item.batch_get(keys, consistent_read=True)}
        return [found[tag] for tag in wanted if tag in found]

    def _has_room(self, task_run_id: str) -> Condition:
        item = self._ctx.item
        # DynamoDB has no empty sets: an absent `slots` means no slot is held. Each branch
        # tests existence first, which is also what moto needs to evaluate size()/contains().
        held = item.slots.exists()
        empty = item.slots.does_not_exist() & (item.slot_limit > 0)
        below_limit = held & (size(item.slots) < item.slot_limit)  # type: ignore[no-untyped-call]
        holds_one = held & item.slots.contains(task_run_id)
        condition: Condition = item.pk.exists() & (empty | below_limit | holds_one)
        return condition

    def acquire(self, tag: str, task_run_id: UUID) -> bool:
        """Take a slot of `tag` for the task run, if one is free (or it holds one already).

        Returns:
            False when every slot is taken.

        Raises:
            NotFoundError: The tag has no limit.
        """
        run_id = str(task_run_id)
        target = self._ctx.item(concurrency_pk(tag), CONCURRENCY_SK)
        try:
            with dynamo_errors():
                target.update(
                    actions=[self._ctx.item.slots.add({run_id})], condition=self._has_room(run_id)
                )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            if self._ctx.find(concurrency_pk(tag), CONCURRENCY_SK) is None:
                raise NotFoundError("concurrency limit not found") from exc
            return False
        return True

    def release(self, tag: str, task_run_id: UUID) -> None:
        """Give back the task run's slot of `tag` (a no-op if it holds none or the tag is gone)."""
        target = self._ctx.item(concurrency_pk(tag), CONCURRENCY_SK)
        try:
            with dynamo_errors():
                target.update(
                    actions=[self._ctx.item.slots.delete({str(task_run_id)})],
                    condition=self._ctx.item.pk.exists(),
                )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise

    def list(self, limit: int, next_token: str | None) -> Page[ConcurrencyLimit]:
        """Limits ordered by tag.

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        query = Query(CONCURRENCY_PARTITION, "gsi1")
        items, token = query_items(self._ctx.item, query, self._ctx.clock(), limit, next_token)
        return Page[ConcurrencyLimit](items=readable(items, _limit), next_token=token)
