"""Opaque pagination tokens and the query loop of every single-partition list.

Generic over the entity classes of `store/items.py`: a query on one returns items of that class
(pynamodb filters on `entity`), and a parser gets the class it was written for.

A token is the url-safe base64 of a JSON object holding the key of the last item returned
(DynamoDB's LastEvaluatedKey for that item). The sharded run indexes page through
`shards.py`, with tokens of the same encoding that hold a position in their merged order.
Every query also drops items whose TTL has passed, because DynamoDB deletes expired items late
(up to days) and moto never does.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from itertools import islice
from typing import Any, TypeVar

from pynamodb.expressions.condition import Condition

from stratoflow_functions.errors import BadRequestError
from stratoflow_functions.store.failures import dynamo_errors
from stratoflow_functions.store.items import TableItem
from stratoflow_functions.store.keys import epoch

BAD_CURSOR = "invalid_next_token"
I = TypeVar("I", bound=TableItem)  # noqa: E741 - the item type, an entity class of items.py
T = TypeVar("T")
logger = logging.getLogger(__name__)


def encode_token(key: Mapping[str, str]) -> str:
    """Encode a key (attribute name → string value) as an opaque token."""
    raw = json.dumps(dict(key), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, names: Sequence[str]) -> dict[str, str]:
    """Decode a token made by `encode_token`, checking it holds exactly `names`.

    Raises:
        BadRequestError: `invalid_next_token` when the token is not one of ours.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        value: Any = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequestError("next_token is not valid", code=BAD_CURSOR) from exc
    if not _is_key(value, names):
        raise BadRequestError("next_token does not belong to this list", code=BAD_CURSOR)
    return dict(value)


def _is_key(value: Any, names: Sequence[str]) -> bool:
    if not isinstance(value, dict) or set(value) != set(names):
        return False
    return all(isinstance(part, str) and part for part in value.values())


def all_of(*conditions: Condition | None) -> Condition | None:
    """AND of the given conditions, ignoring None."""
    present = [condition for condition in conditions if condition is not None]
    if not present:
        return None
    return reduce(lambda left, right: left & right, present)


def live(item: type[TableItem], now: datetime) -> Condition:
    """Filter: the item (of any entity class) has no TTL, or its TTL has not passed."""
    condition: Condition = item.expires_at.does_not_exist() | (item.expires_at > epoch(now))
    return condition


def is_live(item: TableItem, now: datetime) -> bool:
    """Whether a fetched item is still within its TTL."""
    return item.expires_at is None or item.expires_at > epoch(now)


@dataclass(frozen=True)
class Query:
    """One DynamoDB query: a partition of the table or of a GSI, in one direction."""

    hash_key: str
    index: str | None = None
    range_condition: Condition | None = None
    filter: Condition | None = None
    newest_first: bool = False
    consistent: bool = False

    @property
    def key_names(self) -> tuple[str, ...]:
        """The attributes of a LastEvaluatedKey for this query."""
        if self.index is None:
            return ("pk", "sk")
        return ("pk", "sk", f"{self.index}pk", f"{self.index}sk")

    @property
    def hash_name(self) -> str:
        """The partition-key attribute of the queried table or index."""
        return "pk" if self.index is None else f"{self.index}pk"


def _start_key(query: Query, token: str | None) -> dict[str, dict[str, str]] | None:
    if token is None:
        return None
    key = decode_token(token, query.key_names)
    if key[query.hash_name] != query.hash_key:
        raise BadRequestError("next_token does not belong to this list", code=BAD_CURSOR)
    return {name: {"S": value} for name, value in key.items()}


def _token_for(item: TableItem, query: Query) -> str:
    return encode_token({name: getattr(item, name) for name in query.key_names})


def query_items(
    item: type[I], query: Query, now: datetime, limit: int, next_token: str | None
) -> tuple[list[I], str | None]:
    """Run `query` on the entity class `item` for one page of up to `limit` live items of it.

    Reads one item past the page to know whether another page exists, so a token is only
    returned when there is more to read.

    Raises:
        BadRequestError: `invalid_next_token` for a token that is not from this list.
    """
    start = _start_key(query, next_token)
    with dynamo_errors():
        results = item.query(
            query.hash_key,
            range_key_condition=query.range_condition,
            filter_condition=all_of(live(item, now), query.filter),
            index_name=query.index,
            scan_index_forward=not query.newest_first,
            consistent_read=query.consistent,
            last_evaluated_key=start,
            page_size=limit + 1,
        )
        found = list(islice(results, limit + 1))
    if len(found) <= limit:
        return found, None
    return found[:limit], _token_for(found[limit - 1], query)


def readable(items: Iterable[I], parse: Callable[[I], T]) -> list[T]:
    """Each item parsed by `parse`, leaving out (and logging) those that no longer parse.

    A list serves every caller (and the scheduler's tick), so one record that does not match
    its model (written by an older version, or by a bug) must not fail the list for everyone;
    a read of that one record by its key still reports it.
    """
    parsed: list[T] = []
    for item in items:
        try:
            parsed.append(parse(item))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            logger.warning("left out unreadable item %s / %s: %s", item.pk, item.sk, exc)
    return parsed
