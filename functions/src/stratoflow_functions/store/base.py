"""What every repository shares: the bound item classes, the clock, and the basic item moves.

Repositories get a `StoreContext` (built once by `build_store`), so none of them reads settings
or the clock from globals; tests pass a fixed clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, overload

from pynamodb.exceptions import PutError

from stratoflow_functions.config import Settings
from stratoflow_functions.errors import ConflictError, NotFoundError
from stratoflow_functions.store.failures import dynamo_errors, is_condition_failure
from stratoflow_functions.store.items import TableItem, VersionedItem
from stratoflow_functions.store.models import Models, StoreItem
from stratoflow_functions.store.typed_pages import is_live

Clock = Callable[[], datetime]
I = TypeVar("I", bound=TableItem)  # noqa: E741 - the item type


@dataclass(frozen=True)
class StoreContext:
    """The table binding, settings and clock shared by the repositories of one store.

    Reads take the entity class to read as (`ctx.models.flow`, ...); writes use the class of
    the item written. Without a class, reads use the generic `item`, for the repositories not
    yet on their entity's class.
    """

    models: Models
    clock: Clock

    @property
    def item(self) -> type[StoreItem]:
        """The generic item class bound to this store's table."""
        return self.models.item

    @property
    def settings(self) -> Settings:
        """The settings the store was built from."""
        return self.models.settings

    @overload
    def find(self, pk: str, sk: str) -> StoreItem | None: ...
    @overload
    def find(self, pk: str, sk: str, cls: type[I]) -> I | None: ...
    def find(
        self, pk: str, sk: str, cls: type[TableItem] | type[StoreItem] | None = None
    ) -> TableItem | StoreItem | None:
        """A consistent read of one live item as `cls`, or None when absent or past its TTL.

        Raises:
            ValueError: The key holds an item of another entity than `cls`.
        """
        return self._find(pk, sk, self.item if cls is None else cls)

    def _find(
        self, pk: str, sk: str, read_as: type[TableItem] | type[StoreItem]
    ) -> TableItem | StoreItem | None:
        with dynamo_errors():
            try:
                found = read_as.get(pk, sk, consistent_read=True)
            except read_as.DoesNotExist:
                return None
        return found if is_live(found, self.clock()) else None

    @overload
    def fetch(self, pk: str, sk: str, what: str) -> StoreItem: ...
    @overload
    def fetch(self, pk: str, sk: str, what: str, cls: type[I]) -> I: ...
    def fetch(
        self, pk: str, sk: str, what: str, cls: type[TableItem] | type[StoreItem] | None = None
    ) -> TableItem | StoreItem:
        """Like `find`, but a missing item is an error.

        Raises:
            NotFoundError: No live item at this key; `what` names it in the message.
        """
        found = self._find(pk, sk, self.item if cls is None else cls)
        if found is None:
            raise NotFoundError(f"{what} not found")
        return found

    def put_if_absent(self, item: TableItem | StoreItem) -> bool:
        """Write `item` only if its key is free; False when an item is there already."""
        try:
            with dynamo_errors():
                item.save(condition=type(item).pk.does_not_exist())
        except PutError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def put_at_version(
        self, item: VersionedItem | StoreItem, expected_version: int, what: str
    ) -> None:
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
