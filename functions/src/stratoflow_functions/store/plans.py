"""Applying a kernel `Plan` (flow run or task run): all of it in one write, or none of it.

A plan that changes no slot is one PutItem of the run, conditional on the version read. A plan
that takes or gives back slots is one TransactWriteItems: the run's Put with that condition,
an Update of each limit item (a take conditional on the lease version read, `store.leases`),
and an Update of the flow run's lease registry. DynamoDB applies every item or none, so there
is nothing to clean up when the control plane dies, is throttled or loses a race halfway.

What a cancelled transaction means depends on which item failed: the run's condition is a lost
version race (`ConflictError`, which the proposal services answer by reading and planning
again); a take's is a lost slot race (`apply` returns False, the service answers WAIT); a
give-back's means the limit was deleted meanwhile (the plan is applied again without that
give-back: there is nothing left to give back); a `TransactionConflict` (another transaction
on one of the items at that instant) is tried again, a few times.

The transaction mixes entity classes (the run's, the limits', the registry's); they share the
store's one connection (`Models.connection`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any
from uuid import UUID

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from stratoflow.orchestration import Plan, SlotGiveBack
from stratoflow_functions.errors import ConflictError, ThrottledError
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import (
    TXN_CONDITION_FAILED,
    cancellation_codes,
    dynamo_errors,
)
from stratoflow_functions.store.items import FlowRunItem, TaskRunItem
from stratoflow_functions.store.leases import (
    give_back_update,
    limit_target,
    registry_target,
    registry_update,
    take_update,
)

TXN_CONFLICT = "TransactionConflict"
MAX_TRANSACTION_ATTEMPTS = 4
"""Tries of one plan's transaction (after a transaction conflict, or a deleted limit)."""


class _Kind(Enum):
    RUN = "run"
    TAKE = "take"
    GIVE_BACK = "give_back"
    REGISTRY = "registry"


class _Outcome(Enum):
    APPLIED = "applied"
    SLOT_TAKEN = "slot_taken"
    AGAIN = "again"


@dataclass(frozen=True)
class _Step:
    """One item of the transaction, in the order DynamoDB reports its cancellation reason."""

    kind: _Kind
    give_back: SlotGiveBack | None = None


@dataclass(frozen=True)
class PlannedWrite:
    """A plan with the run item it stores, and whose lease registry its slots are listed in."""

    plan: Plan[Any]
    run_item: FlowRunItem | TaskRunItem
    registry_of: UUID
    """The flow run whose registry lists the leases (the run itself, or a task's flow run)."""
    what: str
    """The run, for messages ("flow run …")."""


class PlanWriter:
    """Applies plans to one store's table."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table, settings and clock."""
        self._ctx = ctx

    def apply(self, write: PlannedWrite) -> bool:
        """Write the plan whole, or nothing.

        Returns:
            False when a slot it takes went to a rival since the limit was read (nothing is
            written; the proposer waits and tries again).

        Raises:
            ConflictError: `version_conflict` when the run moved on since it was read.
            ThrottledError: DynamoDB throttled, or the items stayed busy in other transactions.
        """
        plan = write.plan
        if not plan.take and not plan.give_back:
            self._ctx.put_at_version(write.run_item, plan.expected_version, write.what)
            return True
        give_back = list(plan.give_back)
        for _ in range(MAX_TRANSACTION_ATTEMPTS):
            outcome = self._transact(write, give_back)
            if outcome is not _Outcome.AGAIN:
                return outcome is _Outcome.APPLIED
        raise ThrottledError(f"{write.what}: its items stayed busy; retry with backoff")

    def _transact(self, write: PlannedWrite, give_back: list[SlotGiveBack]) -> _Outcome:
        """One try; drops from `give_back` what a deleted limit made moot."""
        plan, run_class = write.plan, type(write.run_item)
        steps = [_Step(_Kind.RUN)]
        try:
            with TransactWrite(connection=self._ctx.models.connection()) as txn:
                txn.save(write.run_item, condition=run_class.version == plan.expected_version)
                for take in plan.take:
                    actions, condition = take_update(self._ctx, take)
                    txn.update(limit_target(self._ctx, take.tag), actions, condition)
                    steps.append(_Step(_Kind.TAKE))
                for back in give_back:
                    actions, condition = give_back_update(self._ctx, back)
                    txn.update(limit_target(self._ctx, back.tag), actions, condition)
                    steps.append(_Step(_Kind.GIVE_BACK, back))
                actions = registry_update(self._ctx, plan.take, plan.give_back)
                txn.update(registry_target(self._ctx, write.registry_of), actions)
                steps.append(_Step(_Kind.REGISTRY))
        except TransactWriteError as exc:
            return _cancelled(exc, steps, give_back, write.what)
        return _Outcome.APPLIED


def _cancelled(
    exc: TransactWriteError, steps: list[_Step], give_back: list[SlotGiveBack], what: str
) -> _Outcome:
    codes = cancellation_codes(exc)
    if len(codes) != len(steps):
        with dynamo_errors():  # not a cancellation: throttling maps to ThrottledError
            raise exc
    failed = {code: [s for s, c in zip(steps, codes, strict=True) if c == code] for code in codes}
    if codes[0] in (TXN_CONDITION_FAILED, TXN_CONFLICT):
        raise ConflictError(
            f"{what} is not at the version the plan was made on", code="version_conflict"
        ) from exc
    moot = [s.give_back for s in failed.get(TXN_CONDITION_FAILED, []) if s.kind is _Kind.GIVE_BACK]
    if moot:
        give_back[:] = [back for back in give_back if back not in moot]
        return _Outcome.AGAIN
    if any(s.kind is _Kind.TAKE for s in failed.get(TXN_CONDITION_FAILED, [])):
        return _Outcome.SLOT_TAKEN
    if set(codes) <= {None, TXN_CONFLICT}:
        return _Outcome.AGAIN
    with dynamo_errors():  # throttling reasons map to ThrottledError; anything else is a bug
        raise exc
