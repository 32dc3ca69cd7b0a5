"""Keep the embedded emulator's DynamoDB stream to what the local stack reads: flow runs.

moto builds a full stream record (both images, serialised twice) for every write to a table
with a stream, and keeps every record for the life of the process. The only reader in the
local stack is the state-change publisher, which wants flow-run items alone; task runs, logs
and keys make up nearly all writes. Recording only flow-run items makes each other write about
three times cheaper in the emulator and bounds the stream's memory by the number of flow-run
changes. On AWS the stream is DynamoDB's and records everything; the publisher filters there.
"""

from __future__ import annotations

import functools
from typing import Any

STREAMED_ENTITIES = frozenset({"flow_run"})


def _entity(item: Any) -> str | None:
    if item is None:
        return None
    attribute = item.attrs.get("entity")
    return None if attribute is None else str(attribute.value)


def make_moto_streams_lean() -> None:
    """Record stream entries only for flow-run items (idempotent: patches once per process)."""
    from moto.dynamodb.models.table import StreamShard

    if getattr(StreamShard, "_stratoflow_lean", False):
        return
    original = StreamShard.add

    @functools.wraps(original)
    def add(self: Any, old: Any, new: Any) -> None:
        if _entity(new) in STREAMED_ENTITIES or _entity(old) in STREAMED_ENTITIES:
            original(self, old, new)

    StreamShard.add = add  # type: ignore[method-assign]
    StreamShard._stratoflow_lean = True  # type: ignore[attr-defined]
