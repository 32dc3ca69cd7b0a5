"""The emulator's direct JSON answers are byte for byte what moto's shape walk would send.

The randomised workload of the sorted-index test (puts, updates, deletes, transactions that
commit and roll back, batch writes, queries of every kind) runs with every DynamoDB answer
serialised twice: directly, and by moto's own serializer; the two bodies must be equal.
"""

from __future__ import annotations

import json
import random
from typing import Any

import boto3
from moto.core.serialize import BaseJSONSerializer

from stratoflow_functions.local.moto_serialize import direct, make_moto_dynamodb_responses_direct
from tests.functional.local.test_moto_indexes import _create, _item, _key, _pages, _query, _write

STEPS = 150


def test_direct_answers_equal_moto_serialisation(aws: None) -> None:
    make_moto_dynamodb_responses_direct()
    cls: Any = BaseJSONSerializer
    ours = cls._serialize_result
    compared: list[str] = []

    def both(self: Any, resp: Any, result: Any) -> Any:
        answer = ours(self, resp, result)
        if direct(self, result):
            theirs = ours.__wrapped__(self, self._create_default_response(), result)
            assert json.loads(answer["body"]) == json.loads(theirs["body"])
            assert answer["headers"] == theirs["headers"]
            compared.append(self.operation_model.name)
        return answer

    cls._serialize_result = both
    try:
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create(client)
        rng = random.Random(11)
        for _ in range(STEPS):
            _write(client, rng)
            _pages(client, _query(rng))
        client.get_item(TableName="t", Key=_key(rng))
        client.put_item(TableName="t", Item=_item(rng), ReturnValues="ALL_OLD")
        client.scan(TableName="t", Limit=3)
    finally:
        cls._serialize_result = ours
    assert {"Query", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
            "BatchWriteItem", "GetItem", "Scan"} <= set(compared)  # fmt: skip
