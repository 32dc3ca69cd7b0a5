"""Make the embedded emulator's DynamoDB writes atomic, as DynamoDB's are.

moto checks a ConditionExpression and then writes with no lock, so two threads (the threaded
moto server, or threads in one test) can both pass the same condition; real DynamoDB never
allows that. The local stack and race tests wrap the emulator's write methods (moto's, not
ours) in one lock.
"""

from __future__ import annotations

import functools
import threading
from typing import Any


def make_moto_dynamodb_atomic() -> None:
    """Serialise moto's DynamoDB writes (idempotent: patches once per process)."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_stratoflow_atomic", False):
        return
    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    DynamoDBBackend._stratoflow_atomic = True  # type: ignore[attr-defined]
