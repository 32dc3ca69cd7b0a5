"""Make the embedded emulator's DynamoDB atomic, as DynamoDB is.

moto checks a ConditionExpression and then writes with no lock, so two threads (the threaded
moto server, or threads in one test) can both pass the same condition; real DynamoDB never
allows that. moto's queries and scans also iterate over a table's items while another thread
may be adding to them ("dictionary changed size during iteration"). The local stack and race
tests wrap the emulator's item operations (moto's, not ours) in one re-entrant lock.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

LOCKED_OPERATIONS = (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
    "get_item",
    "batch_get_item",
    "transact_get_items",
    "query",
    "scan",
)


def make_moto_dynamodb_atomic() -> None:
    """Serialise moto's DynamoDB item operations (idempotent: patches once per process)."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_stratoflow_atomic", False):
        return
    lock = threading.RLock()
    for name in LOCKED_OPERATIONS:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    DynamoDBBackend._stratoflow_atomic = True  # type: ignore[attr-defined]
