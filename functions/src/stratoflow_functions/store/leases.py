"""Concurrency slots as leases: the writes on a limit's lease map, and their renewal.

A concurrency-limit item holds `leases`, a map of holder id → lease expiry (epoch seconds), and
`lease_version`, a counter every take (and every change of the limit) bumps. A take sets the
holder's lease and drops expired holders, conditional on the version read, so two runs racing
for the last slot cannot both win; a give-back removes the holder. Expired leases count for
nothing on any read, so a holder that dies frees its slot when its lease runs out.

Every lease a flow run or one of its task runs holds is also listed in the flow run's lease
registry (`FLOW_RUN#{id}` / `LEASES`, no index keys), written in the same transaction as the
take or give-back. The flow run's heartbeat renews them all from it (`LeaseRenewal`), once a
quarter of the lease has passed, so a lease outlives its holder's last heartbeat by at least
three quarters of `slot_lease_seconds`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from stratoflow.orchestration import SlotGiveBack, SlotTake
from stratoflow_functions.store.base import StoreContext, update_if
from stratoflow_functions.store.failures import dynamo_errors
from stratoflow_functions.store.items import ConcurrencyLimitItem, LeaseRegistryItem
from stratoflow_functions.store.keys import concurrency_pk, epoch, expiry, flow_run_pk

CONCURRENCY_SK = "CONCURRENCY"
REGISTRY_SK = "LEASES"
MAX_EVICTIONS = 50
"""Expired holders one take removes at most (keeps its expressions far below DynamoDB's 4 KB);
the rest go with later takes, and count for nothing meanwhile."""
RENEW_FRACTION = 0.25
"""Leases are renewed once this fraction of `slot_lease_seconds` has passed since the last."""
TRANSACTION_CONFLICT = "TransactionConflictException"

UUID_LENGTH = 36
LEASES_ATTRIBUTE = "leases"


def lease_value(at: datetime) -> dict[str, str]:
    """A lease expiry as stored (a DynamoDB number of epoch seconds, to the millisecond),
    written as pynamodb writes a number back (`repr` of the float), so a typed item that
    reads and saves it again stores the same bytes."""
    return {"N": repr(round(at.timestamp(), 3))}


def lease_time(value: float) -> datetime:
    """The expiry a stored lease value stands for."""
    return datetime.fromtimestamp(float(value), UTC)


def leases_of(item: ConcurrencyLimitItem) -> dict[UUID, datetime]:
    """A limit item's lease map, holder → expiry (entries that are not holder ids skipped)."""
    raw: dict[str, Any] = {} if item.leases is None else item.leases.attribute_values
    leases: dict[UUID, datetime] = {}
    for holder, expires in raw.items():
        try:
            leases[UUID(holder)] = lease_time(expires)
        except (ValueError, TypeError):
            continue
    return leases


def lease_path(holder: UUID) -> Path:
    """The document path of one holder's lease in a limit's lease map."""
    return Path([LEASES_ATTRIBUTE, str(holder)])


def registry_entry(holder: UUID, tag: str) -> str:
    """One registry entry: the holder's id (fixed width) and the tag whose slot it holds."""
    return f"{holder}/{tag}"


def parse_entry(entry: str) -> tuple[UUID, str] | None:
    """The holder and tag of a registry entry; None for one that is not well formed."""
    try:
        holder = UUID(entry[:UUID_LENGTH])
    except ValueError:
        return None
    tag = entry[UUID_LENGTH + 1 :]
    return (holder, tag) if tag else None


def limit_target(ctx: StoreContext, tag: str) -> ConcurrencyLimitItem:
    """The (unread) limit item of `tag`, for an update."""
    return ctx.models.concurrency_limit(concurrency_pk(tag), CONCURRENCY_SK)


def registry_target(ctx: StoreContext, flow_run_id: UUID) -> LeaseRegistryItem:
    """The (unread) lease registry of a flow run, for an update."""
    return ctx.models.lease_registry(flow_run_pk(flow_run_id), REGISTRY_SK)


# --- the writes a plan's transaction carries ---------------------------------------------


def take_update(ctx: StoreContext, take: SlotTake) -> tuple[list[Action], Condition]:
    """Set `take.holder`'s lease, drop (some of) the expired holders, bump the lease version;
    only if the version is still the one read and every evicted lease is still expired."""
    item = ctx.models.concurrency_limit
    evict = [holder for holder in take.evict if holder != take.holder][:MAX_EVICTIONS]
    actions: list[Action] = [
        lease_path(take.holder).set(lease_value(take.expires)),
        item.lease_version.add(1),
    ]
    actions += [lease_path(holder).remove() for holder in evict]
    condition: Condition = item.pk.exists() & _at_version(ctx, take.read_version)
    now = lease_value(ctx.clock())
    for holder in evict:  # a lease renewed since the read is not the taker's to drop
        lease = lease_path(holder)
        condition &= lease.does_not_exist() | (lease <= now)
    return actions, condition


def _at_version(ctx: StoreContext, version: int) -> Condition:
    item = ctx.models.concurrency_limit
    if version == 0:  # a limit written before lease versions existed
        legacy: Condition = item.lease_version.does_not_exist() | (item.lease_version == 0)
        return legacy
    current: Condition = item.lease_version == version
    return current


def give_back_update(ctx: StoreContext, give_back: SlotGiveBack) -> tuple[list[Action], Condition]:
    """Remove the holder's lease (a no-op if it holds none); never recreates a deleted limit."""
    condition: Condition = ctx.models.concurrency_limit.pk.exists()
    return [lease_path(give_back.holder).remove()], condition


def registry_update(
    ctx: StoreContext, take: Iterable[SlotTake], give_back: Iterable[SlotGiveBack]
) -> list[Action]:
    """List the new leases in the flow run's registry, or strike those given back.

    Raises:
        ValueError: The plan both takes and gives back (no kernel plan does; one update of a
            set cannot both add to it and delete from it).
    """
    item = ctx.models.lease_registry
    now = ctx.clock()
    added = {registry_entry(t.holder, t.tag) for t in take}
    removed = {registry_entry(g.holder, g.tag) for g in give_back}
    if added and removed:
        raise ValueError("a plan either takes slots or gives them back, not both")
    actions: list[Action] = [
        item.entity.set(item),  # the discriminator serializes a class to its `entity` value
        item.expires_at.set(expiry(now, ctx.settings.run_retention_days)),
    ]
    if added:
        first_renewal = epoch(now + _renew_every(ctx))
        actions += [item.leased.add(added), item.renew_after.set(item.renew_after | first_renewal)]
    else:
        actions.append(item.leased.delete(removed))
    return actions


def _renew_every(ctx: StoreContext) -> timedelta:
    return timedelta(seconds=ctx.settings.slot_lease_seconds * RENEW_FRACTION)


# --- renewal ---------------------------------------------------------------------------------


class LeaseRenewal:
    """Renew every lease a flow run's registry lists, when a quarter of the lease has passed."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table, settings and clock."""
        self._ctx = ctx

    def renew(self, flow_run_id: UUID, now: datetime) -> int:
        """Extend the live leases of the flow run and its task runs to `now` + the lease.

        A lease that expired or was given back is left alone (never revived); one whose limit
        is busy in a transaction is tried again at the next heartbeat.

        Returns:
            How many leases were renewed (0 when none was due).
        """
        registry = self._due(flow_run_id, now)
        if registry is None:
            return 0
        expires = now + timedelta(seconds=self._ctx.settings.slot_lease_seconds)
        entries = [parse_entry(entry) for entry in sorted(registry.leased or ())]
        outcomes = [self._renew_one(e[0], e[1], now, expires) for e in entries if e is not None]
        if None not in outcomes:
            self._renewed(flow_run_id, now)
        return sum(1 for outcome in outcomes if outcome)

    def _due(self, flow_run_id: UUID, now: datetime) -> LeaseRegistryItem | None:
        registries = self._ctx.models.lease_registry
        with dynamo_errors():
            try:
                registry = registries.get(flow_run_pk(flow_run_id), REGISTRY_SK)
            except registries.DoesNotExist:
                return None
        if not registry.leased or (registry.renew_after or 0) > epoch(now):
            return None
        return registry

    def _renew_one(self, holder: UUID, tag: str, now: datetime, expires: datetime) -> bool | None:
        """True when renewed, False when the lease is gone or expired, None when busy."""
        lease = lease_path(holder)
        live: Condition = lease > lease_value(now)
        actions: list[Action] = [lease.set(lease_value(expires))]
        return _update(limit_target(self._ctx, tag), actions, live, busy=None)

    def _renewed(self, flow_run_id: UUID, now: datetime) -> None:
        item = self._ctx.models.lease_registry
        actions = [
            item.renew_after.set(epoch(now + _renew_every(self._ctx))),
            item.expires_at.set(expiry(now, self._ctx.settings.run_retention_days)),
        ]
        _update(registry_target(self._ctx, flow_run_id), actions, item.pk.exists(), busy=False)


def _update(
    target: ConcurrencyLimitItem | LeaseRegistryItem,
    actions: Sequence[Action],
    condition: Condition,
    *,
    busy: bool | None,
) -> bool | None:
    """One conditional update: True if applied, False if its condition failed, `busy` if the
    item is in another transaction's hands."""
    try:
        return update_if(target, actions, condition)
    except UpdateError as exc:
        if exc.cause_response_code == TRANSACTION_CONFLICT:
            return busy
        raise
