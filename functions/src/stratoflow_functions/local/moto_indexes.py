"""Give the embedded emulator's DynamoDB real indexes: sorted per partition, not scans.

moto answers every Query by listing and sorting every item of the table (`all_items()`), then
sorting the matches again and walking them from the start: a list of 50 runs cost time in
proportion to everything ever stored (624 ms at 10,000 runs). Here each table keeps, per index
(the table's own key and each GSI), a sorted list per partition of the index's sort tuple
(index range key, table hash key, table range key: moto's own order). A Query bisects to its
key range and exclusive start key and walks only the page it returns.

The lists are kept up to date on every write that moto's backend makes (PutItem, UpdateItem,
DeleteItem, and so BatchWriteItem; TransactWriteItems, whether it commits or rolls back): after
each, the keys it named are re-read from the table and their entries moved. Anything else that
changes items (PartiQL, a restored table) leaves the lists to be rebuilt on the next Query. A
Query the lists cannot answer exactly as moto would (legacy QueryFilter, multi-attribute keys,
local indexes, a key without a range key, a start key outside the partition) is moto's own.
Results are moto's: the same items, order, LastEvaluatedKey and ScannedCount (tested against
moto's answers on a randomised workload, tests/functions/test_moto_indexes.py).
"""

from __future__ import annotations

import copy
import functools
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

RESULT_SIZE_LIMIT = 1_000_000
"""moto's 1 MB page limit (moto.dynamodb.models.table.RESULT_SIZE_LIMIT)."""
NEAR_SIZE_LIMIT = 590_000
"""Past this many bytes a page's next item could cross the limit: walk as moto does."""
SUPPORTED = frozenset({"EQ", "LE", "LT", "GE", "GT", "BETWEEN", "BEGINS_WITH"})
OPERATORS = {"=": "EQ", "<=": "LE", "<": "LT", ">=": "GE", ">": "GT"}
"""moto hands a KeyConditionExpression's comparison over as written (`<=`, `begins_with`), a
legacy KeyConditions one by name (`LE`): both name one of `SUPPORTED`."""
ANSWERED: Counter[str] = Counter()
"""Queries answered so far, by whom: `index` (the sorted index) or `moto` (moto's own scan)."""


def comparison_name(range_comparison: str | None) -> str | None:
    """The `SUPPORTED` name of a key comparison, however moto spelled it."""
    if range_comparison is None:
        return None
    return OPERATORS.get(range_comparison, range_comparison.upper())


Entry = tuple[Any, ...]
"""An index entry: the sort tuple, then the table's hash and range DynamoTypes."""


class _Top:
    """Greater than anything it is compared with (an upper probe for bisect), DynamoTypes
    included (they compare `.type`, then `.cast_value`)."""

    type = ""

    @property
    def cast_value(self) -> _Top:
        return self

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True


TOP = _Top()


class StaleIndexError(Exception):
    """An index no longer matched its table (something wrote around it): rebuild it."""


class SortedIndex:
    """One index of one table: partition → sorted entries, and each item's current entry."""

    def __init__(self, hash_attr: str | None, range_attr: str | None) -> None:
        self.hash_attr = hash_attr  # None: the table's own key
        self.range_attr = range_attr
        self.parts: dict[tuple[str, Any], list[Entry]] = {}
        self.entries: dict[tuple[Any, Any], tuple[tuple[str, Any], Entry]] = {}

    def entry_of(self, item: Any) -> tuple[tuple[str, Any], Entry] | None:
        """The partition and entry `item` has in this index (None when it is not in it)."""
        hash_dt, range_dt = item.hash_key, item.range_key
        if self.hash_attr is None:
            return (hash_dt.type, hash_dt.cast_value), (range_dt.cast_value, hash_dt, range_dt)
        part = item.attrs.get(self.hash_attr)
        sort = item.attrs.get(self.range_attr)
        if not part or not sort:
            return None
        key = (sort.cast_value, hash_dt.cast_value, range_dt.cast_value, hash_dt, range_dt)
        return (part.type, part.cast_value), key

    def add(self, item: Any) -> None:
        """Index `item` (not yet indexed)."""
        found = self.entry_of(item)
        if found is not None:
            self.entries[(item.hash_key, item.range_key)] = found
            insort(self.parts.setdefault(found[0], []), found[1])

    def update(self, key: tuple[Any, Any], item: Any) -> None:
        """Move the entry of primary key `key` to where `item` (None: deleted) belongs."""
        old = self.entries.pop(key, None)
        new = None if item is None else self.entry_of(item)
        if old == new:
            if new is not None:
                self.entries[key] = new
            return
        if old is not None:
            part = self.parts.get(old[0], [])
            at = bisect_left(part, old[1])
            if at == len(part) or part[at] != old[1]:
                raise StaleIndexError(key)
            del part[at]
            if not part:
                del self.parts[old[0]]
        if new is not None:
            self.entries[key] = new
            insort(self.parts.setdefault(new[0], []), new[1])


class TableIndexes:
    """A table's sorted indexes, built on first use. Copies start empty (rebuilt when used):
    a table copied for a rollback indexes what it holds when it is queried."""

    def __init__(self) -> None:
        self.by_name: dict[str | None, tuple[Any, SortedIndex]] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> TableIndexes:
        return TableIndexes()

    def get(self, table: Any, name: str | None, schema: Any) -> SortedIndex:
        """The index `name` of `table` (None: the table's key), built if new or redefined."""
        known = self.by_name.get(name)
        if known is not None and known[0] == schema:
            return known[1]
        hash_attr, range_attr = _key_names(schema) if name is not None else (None, None)
        index = SortedIndex(hash_attr, range_attr)
        for item in _items(table):
            found = index.entry_of(item)
            if found is not None:
                index.entries[(item.hash_key, item.range_key)] = found
                index.parts.setdefault(found[0], []).append(found[1])
        for part in index.parts.values():
            part.sort()
        self.by_name[name] = (copy.deepcopy(schema), index)
        return index

    def resync(self, table: Any, key: tuple[Any, Any]) -> None:
        """Re-read the item at `key` and move its entries in every built index."""
        partition = table.items.get(key[0])
        item = None if partition is None else partition.get(key[1])
        try:
            for _, index in self.by_name.values():
                index.update(key, item)
        except StaleIndexError:
            self.by_name.clear()


def _key_names(schema: list[dict[str, str]]) -> tuple[str, str]:
    names = {part["KeyType"]: part["AttributeName"] for part in schema}
    return names["HASH"], names["RANGE"]


def _items(table: Any) -> Iterator[Any]:
    for partition in table.items.values():
        yield from partition.values()


def indexes_of(table: Any) -> TableIndexes:
    """The table's sorted indexes (made on first use; shared by shallow copies)."""
    found = table.__dict__.get("_sf_indexes")
    if found is None:
        found = table.__dict__["_sf_indexes"] = TableIndexes()
    return found  # type: ignore[no-any-return]


def _forget(table: Any) -> None:
    table.__dict__.pop("_sf_indexes", None)


def make_moto_indexes_sorted() -> None:
    """Install sorted indexes for Query (idempotent). Install before `moto_atomic`, so that
    the lock around moto's operations covers the index upkeep too."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    table_cls: Any = Table
    if getattr(table_cls, "_stratoflow_sorted", False):
        return
    backend: Any = DynamoDBBackend
    original_query = table_cls.query

    @functools.wraps(original_query)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = indexed_query(self, *args, **kwargs)
        ANSWERED["moto" if answer is None else "index"] += 1
        return original_query(self, *args, **kwargs) if answer is None else answer

    table_cls.query = query
    _wrap(backend, "put_item", _single_key("item_attrs"))
    _wrap(backend, "update_item", _single_key("key"))
    _wrap(backend, "delete_item", _single_key("key"))
    _wrap(backend, "transact_write_items", _transaction_keys)
    _wrap_forgetting(backend, "execute_statement")
    _wrap_forgetting(backend, "batch_execute_statement")
    table_cls._stratoflow_sorted = True


KeysOf = Callable[[tuple[Any, ...], dict[str, Any]], list[tuple[Any, dict[str, Any]]]]
"""(table name, key or item attributes) of each item a write names, from its arguments."""


def _single_key(name: str) -> KeysOf:
    def keys(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
        table_name = args[0] if args else kwargs.get("table_name")
        attrs = args[1] if len(args) > 1 else kwargs.get(name)
        return [(table_name, attrs if isinstance(attrs, dict) else {})]

    return keys


def _transaction_keys(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[tuple[Any, dict[str, Any]]]:
    keys = []
    for operation in args[0] if args else kwargs.get("transact_items", []):
        _, op = next(iter(operation.items()))
        keys.append((op.get("TableName"), op.get("Key") or op.get("Item") or {}))
    return keys


def _wrap(backend: Any, name: str, keys_of: KeysOf) -> None:
    original = getattr(backend, name)

    @functools.wraps(original)
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        finally:
            for table_name, attrs in keys_of(args, kwargs):
                _resync(self, table_name, attrs)

    setattr(backend, name, write)


def _resync(backend: Any, table_name: Any, attrs: dict[str, Any]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = backend.tables.get(table_name)
    if table is None or table.range_key_attr is None:
        return
    found = table.__dict__.get("_sf_indexes")
    if found is None:
        return
    hash_value, range_value = attrs.get(table.hash_key_attr), attrs.get(table.range_key_attr)
    if hash_value is None or range_value is None:
        _forget(table)  # a key moto accepted in some other form: rebuild when next used
        return
    found.resync(table, (DynamoType(hash_value), DynamoType(range_value)))


def _wrap_forgetting(backend: Any, name: str) -> None:
    original = getattr(backend, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        finally:
            for table in self.tables.values():
                _forget(table)

    setattr(backend, name, write)


def indexed_query(
    table: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, Any]] | None = None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
    **filter_kwargs: Any,
) -> tuple[list[Any], int, dict[str, Any] | None] | None:
    """moto's Table.query answered from the sorted index; None when it must be moto's own."""
    range_comparison = comparison_name(range_comparison)
    plan = _plan(table, hash_key, range_comparison, index_name, consistent_read,
                 hash_key_conditions, range_key_conditions, filter_kwargs)  # fmt: skip
    if plan is None:
        return None
    index_def, sort_attrs, part_key = plan
    schema = None if index_def is None else index_def.schema
    index = indexes_of(table).get(table, index_name, schema)
    entries = index.parts.get(part_key, [])
    low, high = _key_range(entries, range_comparison, range_objs)
    if low is None:
        return None
    window = _after_start(entries, low, high, exclusive_start_key, sort_attrs, part_key,
                          scan_index_forward)  # fmt: skip
    if window is None:
        return None
    results, last_key = _page(table, index_name, entries, window, limit, scan_index_forward)
    results = copy.deepcopy(results)
    if index_def is not None:
        results = [index_def.project(r) for r in results]
    scanned = len(results)
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [r.project(projection_expressions) for r in results]
    return results, scanned, last_key


def _plan(
    table: Any,
    hash_key: Any,
    range_comparison: str | None,
    index_name: str | None,
    consistent_read: bool,
    hash_conditions: list[tuple[str, Any]] | None,
    range_conditions: list[tuple[str, str, list[Any]]] | None,
    filter_kwargs: dict[str, Any],
) -> tuple[Any, list[str], tuple[str, Any]] | None:
    """(index or None, the attributes of the sort order, the partition) or None: moto's."""
    if filter_kwargs or table.range_key_attr is None or hash_key is None:
        return None
    if range_comparison is not None and range_comparison not in SUPPORTED:
        return None
    if len(hash_conditions or []) > 1 or len(range_conditions or []) > 1:
        return None
    table_attrs = [table.hash_key_attr, table.range_key_attr]
    if index_name is None:
        if hash_conditions and hash_conditions[0][0] != table.hash_key_attr:
            return None
        return None, table_attrs, (hash_key.type, hash_key.cast_value)
    index = next((i for i in table.global_indexes if i.name == index_name), None)
    if index is None or consistent_read:
        return None  # unknown, local, or consistent on a GSI: moto's errors and answers
    names = [part["KeyType"] for part in index.schema]
    if sorted(names) != ["HASH", "RANGE"] or not hash_conditions:
        return None
    hash_attr, range_attr = _key_names(index.schema)
    if hash_conditions[0][0] != hash_attr:
        return None
    value = hash_conditions[0][1]
    return index, [hash_attr, range_attr, *table_attrs], (value.type, value.cast_value)


def _key_range(
    entries: list[Entry], comparison: str | None, values: list[Any]
) -> tuple[int | None, int]:
    """The slice of `entries` whose first sort element meets the key condition."""
    if comparison is None:
        return 0, len(entries)
    cast = [value.cast_value for value in values]
    first = cast[0]
    if comparison == "BEGINS_WITH":
        if not isinstance(first, str) or not first:
            return (None, 0) if not isinstance(first, str) else (0, len(entries))
        return bisect_left(entries, (first,)), bisect_left(entries, (_successor(first),))
    below, above = bisect_left(entries, (first,)), bisect_left(entries, (first, TOP))
    ranges = {
        "EQ": (below, above),
        "LT": (0, below),
        "LE": (0, above),
        "GT": (above, len(entries)),
        "GE": (below, len(entries)),
    }
    if comparison == "BETWEEN":
        return below, max(below, bisect_left(entries, (cast[1], TOP)))
    return ranges[comparison]


def _successor(prefix: str) -> str:
    """The least string greater than every string that starts with `prefix`."""
    last = ord(prefix[-1])
    if last == 0x10FFFF:
        return _successor(prefix[:-1]) if len(prefix) > 1 else prefix + "\U0010ffff" * 64
    return prefix[:-1] + chr(last + 1)


def _after_start(
    entries: list[Entry],
    low: int,
    high: int,
    start_key: dict[str, Any] | None,
    sort_attrs: list[str],
    part_key: tuple[str, Any],
    forward: bool,
) -> tuple[int, int] | None:
    """The slice left once the previous pages (up to `start_key`) are skipped."""
    if start_key is None:
        return low, high
    from moto.dynamodb.models.dynamo_type import DynamoType

    if any(not isinstance(start_key.get(attr), dict) for attr in sort_attrs):
        return None
    typed = [DynamoType(start_key[attr]) for attr in sort_attrs]
    if (typed[0].type, typed[0].cast_value) != part_key:
        return None
    probe = tuple(value.cast_value for value in typed[1:])
    if forward:
        return max(low, bisect_left(entries, (*probe, TOP))), high
    return low, min(high, bisect_left(entries, probe))


def _page(
    table: Any,
    index_name: str | None,
    entries: list[Entry],
    window: tuple[int, int],
    limit: int | None,
    forward: bool,
) -> tuple[list[Any], dict[str, Any] | None]:
    """moto's walk over the matching entries: limit and 1 MB page size, and the LastEvaluatedKey
    moto gives (it gives one whenever any item of the partition follows a full page)."""
    low, high = window
    order = range(low, high) if forward else range(high - 1, low - 1, -1)
    results: list[Any] = []
    size = 0
    for position in order:
        item = _item(table, entries[position])
        item_size = item.size()
        if len(results) == limit or size + item_size > RESULT_SIZE_LIMIT:
            return results, table._get_last_evaluated_key(results[-1], index_name)
        results.append(item)
        size += item_size
    rest = range(high, len(entries)) if forward else range(low - 1, -1, -1)
    if results and rest and len(results) == limit:
        return results, table._get_last_evaluated_key(results[-1], index_name)
    if results and size > NEAR_SIZE_LIMIT:
        for position in rest:
            if size + _item(table, entries[position]).size() > RESULT_SIZE_LIMIT:
                return results, table._get_last_evaluated_key(results[-1], index_name)
    return results, None


def _item(table: Any, entry: Entry) -> Any:
    return table.items[entry[-2]][entry[-1]]
