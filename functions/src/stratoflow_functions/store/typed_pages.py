"""pages.py's query loop and TTL checks, typed for the entity classes of store/items.py.

pages.py is typed against the generic `StoreItem` (and is being reworked for index sharding);
its code only touches what every `TableItem` has (the keys, `expires_at`, `query`), so these
wrappers cast at that one seam and keep the entity's own type for the caller. Once pages.py is
generic over `TableItem`, callers use it directly and this module goes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar, cast

from pynamodb.expressions.condition import Condition

from stratoflow_functions.store import pages
from stratoflow_functions.store.items import TableItem
from stratoflow_functions.store.models import StoreItem

I = TypeVar("I", bound=TableItem)  # noqa: E741 - the item type, as pages.py names its T
T = TypeVar("T")


def query_items(
    cls: type[I], query: pages.Query, now: datetime, limit: int, next_token: str | None
) -> tuple[list[I], str | None]:
    """`pages.query_items` on an entity class: one page of its live items, and the next token.

    Raises:
        BadRequestError: `invalid_next_token` for a token that is not from this list.
    """
    found, token = pages.query_items(cast("type[StoreItem]", cls), query, now, limit, next_token)
    return cast("list[I]", found), token


def readable(items: Iterable[I], parse: Callable[[I], T]) -> list[T]:
    """`pages.readable`: each item parsed, leaving out (and logging) those that do not parse."""
    parse_any = cast("Callable[[StoreItem], T]", parse)
    return pages.readable(cast("Iterable[StoreItem]", items), parse_any)


def live(cls: type[TableItem], now: datetime) -> Condition:
    """`pages.live`: the filter keeping items without a TTL or within it."""
    return pages.live(cast("type[StoreItem]", cls), now)


def is_live(item: TableItem | StoreItem, now: datetime) -> bool:
    """`pages.is_live`: whether a fetched item is still within its TTL."""
    return pages.is_live(cast("StoreItem", item), now)
