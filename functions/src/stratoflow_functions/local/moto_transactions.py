"""Make moto's TransactWriteItems cost what the transaction touches, not the whole table.

moto backs up every table a transaction names with `copy.deepcopy` (every item and the whole
in-memory stream history) so it can roll back; with the control plane's one table that makes
each transaction slower as the table grows (measured: ~75 ms at 30 runs, ~1 s at ~1,000 runs),
and every flow run is created in a transaction. This patch gives that backup a light copy
instead: the table object and its item index are copied shallowly, the items the transaction
touches (the only ones it can change) and the stream's record list are copied; a rollback
then restores exactly what moto's full copy restored. It applies only inside
`transact_write_items` (a thread-local says so), so other deep copies (backups, restores) are
untouched. The local stack's emulator turns it on; tests of the store do not use it.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections import defaultdict
from typing import Any

_context = threading.local()


def make_moto_transactions_cheap() -> None:
    """Install the light transaction backup (idempotent: patches once per process)."""
    import moto.dynamodb.models as models

    module: Any = models  # moto's internals are untyped here: patched by attribute
    backend: Any = models.DynamoDBBackend
    if getattr(backend, "_stratoflow_cheap_transactions", False):
        return
    module.copy = _CopyShim()
    original = backend.transact_write_items

    @functools.wraps(original)
    def transact(self: Any, transact_items: list[dict[str, Any]], *args: Any, **kw: Any) -> Any:
        _context.touched = touched_keys(self, transact_items)
        try:
            return original(self, transact_items, *args, **kw)
        finally:
            _context.touched = None

    backend.transact_write_items = transact
    backend._stratoflow_cheap_transactions = True


def touched_keys(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Table name → the key attributes (DynamoDB JSON) each operation of a transaction names."""
    touched: dict[str, list[Any]] = defaultdict(list)
    for item in transact_items:
        _, op = next(iter(item.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        key = op.get("Key") or _key_of(table, op.get("Item") or {})
        touched[table.name].append(key)
    return touched


def _key_of(table: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    names = [table.hash_key_attr, table.range_key_attr]
    return {name: attrs[name] for name in names if name and name in attrs}


class _CopyShim:
    """The `copy` module as moto's DynamoDB models see it: light copies of tables inside a
    transaction, the real thing everywhere else."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
        touched = getattr(_context, "touched", None)
        if touched is not None and type(obj).__name__ == "Table" and obj.name in touched:
            return light_copy(obj, touched[obj.name])
        return copy.deepcopy(obj, memo)


def light_copy(table: Any, keys: list[dict[str, Any]]) -> Any:
    """A copy of `table` that a rollback can swap in: untouched partitions shared, the touched
    partitions' item maps and touched items copied, and the stream's record list copied."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    clone = copy.copy(table)
    clone.items = defaultdict(dict, table.items)  # one C-level copy of the partition index
    for key in keys:
        hash_value = DynamoType(key[table.hash_key_attr])
        if hash_value not in table.items:
            continue
        if table.range_key_attr is None:
            clone.items[hash_value] = copy.deepcopy(table.items[hash_value])
            continue
        inner = clone.items[hash_value] = dict(table.items[hash_value])
        range_value = DynamoType(key.get(table.range_key_attr, {}))
        if range_value in inner:
            inner[range_value] = copy.deepcopy(inner[range_value])
    shard = getattr(table, "stream_shard", None)
    if shard is not None:
        clone.stream_shard = copy.copy(shard)
        clone.stream_shard.items = list(shard.items)
    return clone
