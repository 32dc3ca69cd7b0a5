"""Answer the embedded emulator's hot DynamoDB item operations without walking their shapes.

moto serialises every response by walking the operation's botocore output shape, value by
value, through a picker that looks each name up under several aliases: with sorted indexes,
that walk was ~70 % of the emulator's time on a list of runs (every item of a Query page,
attribute by attribute). The results of the item operations are already in DynamoDB's wire
form (moto builds them from `Item.to_json()`: AttributeValue maps of strings, numbers as
strings, lists, maps, booleans), so here they are written as JSON directly; only top-level
nulls and names the output shape does not have are dropped, as the shape walk drops them.
Tested against moto's own serialisation of the same results on a randomised workload
(tests/functional/local/test_moto_serialize.py).
"""

from __future__ import annotations

import functools
from typing import Any

DIRECT_OPERATIONS = frozenset(
    {
        "Query",
        "Scan",
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def direct(serializer: Any, result: Any) -> bool:
    """Whether `result` of this serializer's operation is written as it is."""
    model = serializer.operation_model
    return (
        type(result) is dict
        and model.name in DIRECT_OPERATIONS
        and model.service_model.service_name == "dynamodb"
    )


def make_moto_dynamodb_responses_direct() -> None:
    """Install the direct JSON answers (idempotent: patches once per process)."""
    from moto.core.serialize import BaseJSONSerializer

    cls: Any = BaseJSONSerializer
    if getattr(cls, "_stratoflow_direct", False):
        return
    original = cls._serialize_result

    @functools.wraps(original)
    def serialize_result(self: Any, resp: Any, result: Any) -> Any:
        if not direct(self, result):
            return original(self, resp, result)
        shape = self.operation_model.output_shape
        members = shape.members
        body = {k: v for k, v in result.items() if v is not None and k in members}
        return self._serialized_result_to_response(resp, result, shape, body)

    cls._serialize_result = serialize_result
    cls._stratoflow_direct = True
