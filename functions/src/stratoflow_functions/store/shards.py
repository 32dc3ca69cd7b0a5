"""Write-sharded run indexes: how many shards a read covers, and queries that fan out and merge.

Every run-index partition (all runs, runs by state, by flow, by deployment, a queue's due
runs, live runs by heartbeat age) is written over `Settings.index_shards` shards
(`keys.sharded`, `keys.shard_of`). A read queries each shard lazily, an even share of the
page at a time and only where the merge needs more, and merges them into the one order a single
partition would have had (sort keys are `{time}#{id}`, unique per run, so the order is total).

A page's token is its position in that merged order: the sort key of the last item returned,
plus which list it belongs to. Every shard resumes from the same position, so a token stays
right when a run moves between shards (after a change of the shard count) or when the count
grows between two pages. See docs/data-model.md, "Write sharding".
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TypeVar
from uuid import UUID

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.expressions.condition import Condition

from stratoflow_functions.errors import BadRequestError
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors, is_condition_failure
from stratoflow_functions.store.items import TableItem
from stratoflow_functions.store.keys import SHARD_LAYOUT_PK, parse_time, sharded, timed
from stratoflow_functions.store.pages import BAD_CURSOR, all_of, decode_token, encode_token, live

TOKEN_NAMES = ("list", "after")
I = TypeVar("I", bound=TableItem)  # noqa: E741 - the item type, an entity class of items.py


class ShardLayout:
    """How many shards this store writes, and how many its reads cover.

    Reads cover the most shards any writer of the table has used, recorded in one item
    (`INDEX_LAYOUT`, its `version` attribute), so lowering `index_shards` never hides a run
    written to a higher shard. The record is raised before this store's first run write and
    read once per store (per Lambda container): a new shard count always comes with new
    containers.
    """

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table; nothing is read until the first use."""
        self._ctx = ctx
        self._read_shards: int | None = None

    @property
    def write_shards(self) -> int:
        """The shard count new index keys are written with."""
        return self._ctx.settings.index_shards

    def read_shards(self) -> int:
        """The shard count reads cover (records this store's count first, once)."""
        if self._read_shards is None:
            self._read_shards = self._record()
        return self._read_shards

    def ensure_recorded(self) -> None:
        """Make sure the table's record covers this store's shard count (before writing)."""
        self.read_shards()

    def _record(self) -> int:
        recorded = self._recorded()
        # A lost race means a rival raised the record meanwhile; records only ever grow, so
        # this ends.
        while recorded < self.write_shards and not self._raise(recorded):
            recorded = self._recorded()
        return max(recorded, self.write_shards)

    def _recorded(self) -> int:
        found = self._ctx.find(SHARD_LAYOUT_PK, SHARD_LAYOUT_PK, self._ctx.models.index_layout)
        return 0 if found is None or found.version is None else int(found.version)

    def _raise(self, recorded: int) -> bool:
        item = self._ctx.models.index_layout
        record = item(SHARD_LAYOUT_PK, SHARD_LAYOUT_PK, version=self.write_shards)
        try:
            with dynamo_errors():
                record.save(condition=item.pk.does_not_exist() | (item.version == recorded))
        except PutError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True


@dataclass(frozen=True)
class ShardedQuery:
    """One run-index list: a partition (unsharded name) of a GSI, a sort-key range, an order.

    `lower` and `upper` are inclusive bounds on the index sort key; None leaves that end open.
    """

    partition: str
    index: str
    lower: str | None = None
    upper: str | None = None
    filter: Condition | None = None
    newest_first: bool = False

    @property
    def sort_name(self) -> str:
        """The index's sort-key attribute."""
        return f"{self.index}sk"


ItemPage = tuple[list[I], str | None]
"""A page of items and the token of the next page (None when there is no more)."""


@dataclass(frozen=True)
class _ShardRead:
    """What every shard's query of one call shares: bounds, filter and page sizes."""

    lower: str | None
    upper: str | None
    filter: Condition | None
    first: int
    most: int


def query_shards(
    item: type[I],
    query: ShardedQuery,
    shards: int,
    now: datetime,
    limit: int,
    next_token: str | None,
) -> ItemPage[I]:
    """One page of up to `limit` live items of `query`, merged over `shards` shards.

    Reads one item past the page, so a token is only returned when there is more to read.

    Raises:
        BadRequestError: `invalid_next_token` for a token that is not from this list.
    """
    position = _position(query, next_token)
    read = _shard_read(item, query, position, now, limit + 1, shards)
    if read is None:
        return [], None
    streams = [_stream(item, query, shard, read) for shard in range(shards)]
    page = _merged(streams, query, position, limit + 1)
    if len(page) <= limit:
        return page, None
    return page[:limit], _token(query, getattr(page[limit - 1], query.sort_name))


def _shard_read(
    item: type[TableItem],
    query: ShardedQuery,
    position: str | None,
    now: datetime,
    wanted: int,
    shards: int,
) -> _ShardRead | None:
    """How each shard is read for `wanted` items after `position`; None when none can exist."""
    lower, upper = _bounds(query, position)
    if lower is not None and upper is not None and lower > upper:
        return None
    first = -(-wanted // shards) + 1  # an even share of the page, and one to spare
    return _ShardRead(lower, upper, all_of(live(item, now), query.filter), first, wanted)


def _merged(
    streams: list[Iterator[I]], query: ShardedQuery, position: str | None, wanted: int
) -> list[I]:
    """The first `wanted` items of the shards' streams in the list's order, without the item
    at `position` (the bounds include it; the previous page returned it)."""
    name = query.sort_name
    merged = heapq.merge(
        *streams, key=lambda found: str(getattr(found, name)), reverse=query.newest_first
    )
    with dynamo_errors():
        return list(islice((found for found in merged if getattr(found, name) != position), wanted))


def _stream(item: type[I], query: ShardedQuery, shard: int, read: _ShardRead) -> Iterator[I]:
    """The items of one shard in order, read a page at a time as the merge asks for them.

    Each page asks for an even share of the call (`read.first` items): most shards need one,
    a shard that holds more of the page reads another share. A page the filter thinned (TTL
    leftovers, other infrastructure, other states) doubles the next one, up to a whole call
    (`read.most`), so a scan past filtered-out items takes few queries.
    """
    results = item.query(
        sharded(query.partition, shard),
        range_key_condition=_range(getattr(item, query.sort_name), read.lower, read.upper),
        filter_condition=read.filter,
        index_name=query.index,
        scan_index_forward=not query.newest_first,
        page_size=read.first,
    )
    pages = results.page_iter
    for page in pages:
        for raw in page.get("Items", ()):
            yield item.from_raw_data(raw)
        if page.get("Count", 0) < page.get("ScannedCount", 0):
            pages.page_size = min(2 * (pages.page_size or read.first), read.most)


def _range(sort_key: UnicodeAttribute, lower: str | None, upper: str | None) -> Condition | None:
    if lower is not None and upper is not None:
        return sort_key.between(lower, upper)
    if lower is not None:
        return sort_key >= lower
    if upper is not None:
        return sort_key <= upper
    return None


def _bounds(query: ShardedQuery, position: str | None) -> tuple[str | None, str | None]:
    """The query's bounds narrowed to what comes after `position` (which is dropped later)."""
    lower, upper = query.lower, query.upper
    if position is None:
        return lower, upper
    if query.newest_first:
        return lower, position if upper is None else min(upper, position)
    return position if lower is None else max(lower, position), upper


def _token(query: ShardedQuery, position: str) -> str:
    return encode_token({"list": query.partition, "after": position})


def _position(query: ShardedQuery, token: str | None) -> str | None:
    if token is None:
        return None
    decoded = decode_token(token, TOKEN_NAMES)
    if decoded["list"] != query.partition or not _is_run_position(decoded["after"]):
        raise BadRequestError("next_token does not belong to this list", code=BAD_CURSOR)
    return decoded["after"]


def _is_run_position(value: str) -> bool:
    """Whether `value` is a run-index sort key, `{time}#{run id}` in canonical form."""
    time_part, _, id_part = value.partition("#")
    try:
        return timed(parse_time(time_part), UUID(id_part)) == value
    except ValueError:
        return False
