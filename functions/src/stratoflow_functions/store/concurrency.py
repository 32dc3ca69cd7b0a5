"""Concurrency limits (of task tags, and the reserved work-queue and deployment tags).

The item of a tag holds `slot_limit`, the lease map `leases` (holder id → expiry) and the
`lease_version` every take and every change of the limit bumps (`store.leases`). This module
reads limits: into the kernel's `TagSlots` for a plan (`slots`), and for the API, where only
holders with a live lease are listed. Slots are taken and given back by plans
(`store.plans`), never here.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.expressions.update import Action

from stratoflow.orchestration import TagSlots
from stratoflow.schemas import ConcurrencyLimit, Page
from stratoflow_functions.errors import NotFoundError
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors, is_condition_failure
from stratoflow_functions.store.items import ConcurrencyLimitItem
from stratoflow_functions.store.keys import (
    CONCURRENCY_PARTITION,
    concurrency_pk,
    parse_time,
    time_key,
)
from stratoflow_functions.store.leases import CONCURRENCY_SK, leases_of, limit_target
from stratoflow_functions.store.pages import Query, query_items, readable

EMPTY_MAP: dict[str, dict[str, object]] = {"M": {}}


def _limit(item: ConcurrencyLimitItem, now: datetime) -> ConcurrencyLimit:
    live = (holder for holder, expires in leases_of(item).items() if expires > now)
    return ConcurrencyLimit(
        tag=item.tag or "",
        limit=int(item.slot_limit or 0),
        active_slots=sorted(live),
        created=parse_time(item.created or ""),
    )


def _slots(item: ConcurrencyLimitItem, holder: UUID, now: datetime) -> TagSlots:
    return TagSlots.from_leases(
        item.tag or "",
        int(item.slot_limit or 0),
        leases_of(item),
        holder,
        now,
        version=int(item.lease_version or 0),
    )


class ConcurrencyRepository:
    """Concurrency limits by tag, with the live leases on their slots."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx
        self._limits = ctx.models.concurrency_limit

    @property
    def lease_seconds(self) -> float:
        """How long a slot taken now is held without renewal (`slot_lease_seconds`)."""
        return self._ctx.settings.slot_lease_seconds

    def put(self, tag: str, limit: int, now: datetime) -> ConcurrencyLimit:
        """Set the limit of `tag`, keeping the leases and the creation time.

        The lease version goes up, so a take decided on the old limit fails its condition.
        """
        item = self._limits
        target = limit_target(self._ctx, tag)
        actions: list[Action] = [
            item.entity.set(item),  # the discriminator serializes a class to its `entity` value
            item.tag.set(tag),
            item.slot_limit.set(limit),
            item.leases.set(item.leases | EMPTY_MAP),
            item.lease_version.add(1),
            item.created.set(item.created | time_key(now)),
            item.gsi1pk.set(CONCURRENCY_PARTITION),
            item.gsi1sk.set(tag),
        ]
        with dynamo_errors():
            target.update(actions=actions)
        return _limit(target, self._ctx.clock())

    def get(self, tag: str) -> ConcurrencyLimit:
        """The limit of `tag`, listing the holders whose lease is live.

        Raises:
            NotFoundError: The tag has no limit.
        """
        pk = concurrency_pk(tag)
        found = self._ctx.fetch(pk, CONCURRENCY_SK, "concurrency limit", self._limits)
        return _limit(found, self._ctx.clock())

    def delete(self, tag: str) -> None:
        """Remove the limit of `tag` (and its leases).

        Raises:
            NotFoundError: The tag has no limit.
        """
        target = limit_target(self._ctx, tag)
        try:
            with dynamo_errors():
                target.delete(condition=self._limits.pk.exists())
        except DeleteError as exc:
            if is_condition_failure(exc):
                raise NotFoundError("concurrency limit not found") from exc
            raise

    def for_tags(self, tags: list[str]) -> list[ConcurrencyLimit]:
        """The limits of those `tags` that have one, in the order of `tags`."""
        now = self._ctx.clock()
        return [_limit(item, now) for item in self._read(tags)]

    def slots(self, tags: list[str], holder: UUID, now: datetime) -> tuple[TagSlots, ...]:
        """The limits of those `tags` that have one, as a plan for `holder` sees them at `now`
        (live leases, expired holders, lease version), in the order of `tags`."""
        return tuple(_slots(item, holder, now) for item in self._read(tags))

    def _read(self, tags: list[str]) -> list[ConcurrencyLimitItem]:
        wanted = list(dict.fromkeys(tags))
        if not wanted:
            return []
        keys = [(concurrency_pk(tag), CONCURRENCY_SK) for tag in wanted]
        with dynamo_errors():
            found = {i.tag: i for i in self._limits.batch_get(keys, consistent_read=True)}
        items = [found[tag] for tag in wanted if tag in found]
        for item in items:
            if item.leases is None:
                self._add_lease_map(item)
        return items

    def _add_lease_map(self, item: ConcurrencyLimitItem) -> None:
        """Give a limit written before leases existed its (empty) lease map, which a take's
        `SET leases.#holder` needs; the version is left alone."""
        target = limit_target(self._ctx, item.tag or "")
        model = self._limits
        try:
            with dynamo_errors():
                target.update(
                    actions=[model.leases.set(model.leases | EMPTY_MAP)],
                    condition=model.pk.exists(),
                )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise

    def list(self, limit: int, next_token: str | None) -> Page[ConcurrencyLimit]:
        """Limits ordered by tag, each listing the holders whose lease is live.

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        query = Query(CONCURRENCY_PARTITION, "gsi1")
        now = self._ctx.clock()
        items, token = query_items(self._limits, query, now, limit, next_token)
        return Page[ConcurrencyLimit](
            items=readable(items, lambda item: _limit(item, now)), next_token=token
        )
