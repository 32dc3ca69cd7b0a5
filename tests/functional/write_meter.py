"""Count the store's DynamoDB writes with botocore event hooks, and what they cost.

`WriteMeter.attach(store)` registers on the store's own botocore client: every PutItem,
UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems is recorded with the write units
DynamoDB would charge for it (1 KB units of the larger of the item's sizes before and after,
doubled inside a transaction), measured by reading each touched item through a second client.
`fail_transactions` makes the next transactions fail as DynamoDB would cancel them, for fault
injection; nothing of ours is patched.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from stratoflow_functions.store import Store

WRITE_OPERATIONS = (
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
)


def store_client(store: Store) -> Any:
    """The botocore client the store's repositories share (pynamodb's connection)."""
    return store.flow_runs._ctx.models.connection().client


def item_size(item: dict[str, Any] | None) -> int:
    """DynamoDB's size of an item in DynamoDB JSON (names plus values, bytes)."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = str(Decimal(raw)).replace("-", "").replace(".", "").lstrip("0")
        return math.ceil(len(digits) / 2) + 1
    if kind in ("SS", "NS"):
        return sum(_value_size({kind[0]: part}) for part in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in raw)
    return 1


@dataclass
class Write:
    """One write request: its operation, the keys it touched and the units it cost."""

    operation: str
    keys: list[tuple[str, str]]
    units: int


@dataclass
class WriteMeter:
    """The writes one store made while attached."""

    table: str
    writes: list[Write] = field(default_factory=list)
    _failures: list[Callable[[dict[str, Any]], dict[str, Any] | None]] = field(default_factory=list)

    @classmethod
    @contextmanager
    def attach(cls, store: Store, table: str) -> Iterator[WriteMeter]:
        """Record the store's writes inside the `with` block."""
        meter = cls(table)
        events = store_client(store).meta.events
        hooks = [
            ("before-parameter-build.dynamodb", meter._before_call),
            ("after-call.dynamodb", meter._after_call),
        ]
        for name, hook in hooks:
            events.register(name, hook)
        try:
            yield meter
        finally:
            for name, hook in hooks:
                events.unregister(name, hook)

    def counts(self) -> Counter[str]:
        """Requests per operation."""
        return Counter(write.operation for write in self.writes)

    def units(self) -> int:
        """The write units of every recorded request."""
        return sum(write.units for write in self.writes)

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.writes.clear()

    def fail_transaction(self, decide: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """Answer the next TransactWriteItems with the error `decide` returns for its request
        (botocore error-response shape), or let it through when `decide` returns None."""
        self._failures.append(decide)

    # --- hooks ---------------------------------------------------------------------------

    def _before_call(
        self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> Any:
        operation = model.name
        if operation not in WRITE_OPERATIONS:
            return None
        if operation == "TransactWriteItems" and self._failures:
            error = self._failures.pop(0)(params)
            if error is not None:
                raise ClientError(error, operation)
        # The context dict travels with this one request to after-call (threads share hooks).
        context["write_meter"] = {
            key: item_size(self._read(key)) for key in _keys(operation, params)
        }
        return None

    def _after_call(
        self, model: Any, http_response: Any, context: dict[str, Any], **_: Any
    ) -> None:
        before: dict[tuple[str, str], int] | None = context.pop("write_meter", None)
        if before is None or http_response.status_code != 200:
            return
        factor = 2 if model.name == "TransactWriteItems" else 1
        units = 0
        for key, size_before in before.items():
            size = max(size_before, item_size(self._read(key)))
            units += factor * max(1, math.ceil(size / 1024))
        self.writes.append(Write(model.name, list(before), units))

    def _read(self, key: tuple[str, str]) -> dict[str, Any] | None:
        client = boto3.client("dynamodb", region_name="us-east-1")
        found = client.get_item(
            TableName=self.table, Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}}
        )
        item: dict[str, Any] | None = found.get("Item")
        return item


def _keys(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    if operation == "TransactWriteItems":
        ops = [next(iter(entry.values())) for entry in params["TransactItems"]]
    elif operation == "BatchWriteItem":
        ops = [
            request.get("PutRequest") or request.get("DeleteRequest")
            for requests in params["RequestItems"].values()
            for request in requests
        ]
    else:
        ops = [params]
    return [_key(op) for op in ops]


def _key(op: dict[str, Any]) -> tuple[str, str]:
    attrs = op.get("Key") or op.get("Item")
    return attrs["pk"]["S"], attrs["sk"]["S"]


def cancelled(reasons: list[str]) -> dict[str, Any]:
    """A TransactionCanceledException response with one reason code per item ("None" = fine)."""
    return {
        "Error": {
            "Code": "TransactionCanceledException",
            "Message": f"Transaction cancelled, please refer cancellation reasons [{reasons}]",
        },
        "CancellationReasons": [{"Code": code} for code in reasons],
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
