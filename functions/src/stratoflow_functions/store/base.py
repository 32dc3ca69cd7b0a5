"""What every repository shares: the bound item classes, the clock, and the basic item moves.

Repositories get a `StoreContext` (built once by `build_store`), so none of them reads settings
or the clock from globals; tests pass a fixed clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from stratoflow_functions.config import Settings
from stratoflow_functions.errors import ConflictError, NotFoundError
from stratoflow_functions.store.failures import dynamo_errors, is_condition_failure
from stratoflow_functions.store.items import TableItem, VersionedItem
from stratoflow_functions.store.models import Models
from stratoflow_functions.store.pages import is_live

Clock = Callable[[], datetime]
I = TypeVar("I", bound=TableItem)  # noqa: E741 - the item type


@dataclass(frozen=True)
class StoreContext:
    """The table binding, settings and clock shared by the repositories of one store.

    Reads take the entity class to read as (`ctx.models.flow`, `ctx.models.flow_run`, ...);
    writes use the class of the item written.
    """

    models: Models
    clock: Clock

    @property
    def settings(self) -> Settings:
        """The settings the store was built from."""
        return self.models.settings

    def find(self, pk: str, sk: str, cls: type[I]) -> I | None:
        """A consistent read of one live item as `cls`, or None when absent or past its TTL.

        Raises:
            ValueError: The key holds an item of another entity than `cls`.
        """
        with dynamo_errors():
            try:
                found = cls.get(pk, sk, consistent_read=True)
            except cls.DoesNotExist:
                return None
        return found if is_live(found, self.clock()) else None

    def fetch(self, pk: str, sk: str, what: str, cls: type[I]) -> I:
        """Like `find`, but a missing item is an error.

        Raises:
            NotFoundError: No live item at this key; `what` names it in the message.
        """
        found = self.find(pk, sk, cls)
        if found is None:
            raise NotFoundError(f"{what} not found")
        return found

    def put_if_absent(self, item: TableItem) -> bool:
        """Write `item` only if its key is free; False when an item is there already."""
        try:
            with dynamo_errors():
                item.save(condition=type(item).pk.does_not_exist())
        except PutError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def put_at_version(self, item: VersionedItem, expected_version: int, what: str) -> None:
        """Replace the whole item iff its stored `version` is `expected_version`.

        Raises:
            ConflictError: `version_conflict` when another writer got there first (or the item
                is gone); `what` names it in the message.
        """
        try:
            with dynamo_errors():
                item.save(condition=type(item).version == expected_version)
        except PutError as exc:
            if is_condition_failure(exc):
                raise ConflictError(
                    f"{what} is not at version {expected_version}", code="version_conflict"
                ) from exc
            raise


def update_if(target: TableItem, actions: Sequence[Action], condition: Condition) -> bool:
    """One conditional UpdateItem: True if applied, False if its condition was false.

    Raises:
        ThrottledError: The store is throttling.
        UpdateError: Anything else DynamoDB refused (a transaction holding the item, say).
    """
    try:
        with dynamo_errors():
            target.update(actions=list(actions), condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
