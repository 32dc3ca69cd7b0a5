"""The embedded emulator frees what it is done with: rewriting one item many times leaves one
item alive, not a copy per write (moto tracked every model object it made, for ever)."""

from __future__ import annotations

import gc
from pathlib import Path

from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from stratoflow_functions.local.emulator import Emulator

WRITES = 100


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


def test_rewriting_an_item_leaves_no_copies_alive(tmp_path: Path) -> None:
    emulator = Emulator(tmp_path / "local")
    emulator.start()
    try:
        dynamodb = emulator.clients.dynamodb
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        before = _alive(Item), _alive(Table)
        key = {"pk": {"S": "one"}}
        for n in range(WRITES):
            dynamodb.update_item(
                TableName="t", Key=key, UpdateExpression="SET n = :n",
                ExpressionAttributeValues={":n": {"N": str(n)}},
            )  # fmt: skip
            dynamodb.transact_write_items(
                TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": f"t{n % 3}"}}}}]
            )
        after = _alive(Item), _alive(Table)
        assert dynamodb.get_item(TableName="t", Key=key)["Item"]["n"] == {"N": str(WRITES - 1)}
    finally:
        emulator.stop()
    assert after[0] - before[0] <= 4, after  # the four items, not one copy per write
    assert after[1] - before[1] <= 1, after  # the table, not one copy per transaction
