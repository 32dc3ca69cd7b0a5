"""The emulator's sorted indexes answer every Query exactly as moto's own scan-and-sort does.

A randomised workload (puts, updates that move and drop GSI keys, deletes, transactions that
commit and transactions that roll back, batch writes) runs against moto with the sorted
indexes installed; after each step a random Query (table or GSI; =, <, <=, >, >=, between,
begins_with; both directions; limits; filters; every page by its exclusive start key) is asked
twice, through boto3: once as the indexes answer it and once with moto's own `Table.query`
restored for that call. Both answers must be equal, page by page.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto.dynamodb.models.table import Table

from stratoflow_functions.local.moto_indexes import (
    ANSWERED,
    indexes_of,
    make_moto_indexes_sorted,
)
from stratoflow_functions.local.moto_transactions import make_moto_transactions_cheap

STEPS = 300
PARTS = ["a", "b", "c"]
SORTS = ["", "a", "ab", "abc", "b", "ba", "c", "x\U0010ffff", "\U0010ffff"]


@contextmanager
def moto_own_query() -> Iterator[None]:
    """moto's own Table.query for the duration (the sorted index's is restored after)."""
    table: Any = Table
    ours = table.query
    table.query = ours.__wrapped__
    try:
        yield
    finally:
        table.query = ours


def _create(client: Any) -> None:
    names = ["pk", "sk", "g1pk", "g1sk", "g2pk", "g2sk"]
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in names],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {"IndexName": f"gsi{n}", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": f"g{n}pk", "KeyType": "HASH"},
                           {"AttributeName": f"g{n}sk", "KeyType": "RANGE"}]}
            for n in (1, 2)
        ],
    )  # fmt: skip


def _value(rng: random.Random) -> str:
    return rng.choice(SORTS[1:]) + str(rng.randrange(4))


def _item(rng: random.Random) -> dict[str, Any]:
    item = {"pk": {"S": rng.choice(PARTS)}, "sk": {"S": _value(rng)},
            "n": {"N": str(rng.randrange(10))}}  # fmt: skip
    for n in (1, 2):
        if rng.random() < 0.7:  # sparse: some items are in no index
            item[f"g{n}pk"] = {"S": rng.choice(PARTS)}
            item[f"g{n}sk"] = {"S": _value(rng)}
    return item


def _key(rng: random.Random) -> dict[str, Any]:
    return {"pk": {"S": rng.choice(PARTS)}, "sk": {"S": _value(rng)}}


def _write(client: Any, rng: random.Random) -> None:
    kind = rng.randrange(6)
    if kind == 0:
        client.put_item(TableName="t", Item=_item(rng))
    elif kind == 1:
        n = rng.choice((1, 2))
        client.update_item(
            TableName="t", Key=_key(rng),
            UpdateExpression=f"SET g{n}pk = :p, g{n}sk = :s, n = :n",
            ExpressionAttributeValues={":p": {"S": rng.choice(PARTS)},
                                       ":s": {"S": _value(rng)}, ":n": {"N": "1"}},
        )  # fmt: skip
    elif kind == 2:
        client.update_item(TableName="t", Key=_key(rng), UpdateExpression="REMOVE g1pk, g2sk")
    elif kind == 3:
        client.delete_item(TableName="t", Key=_key(rng))
    elif kind == 4:
        _transaction(client, rng)
    else:
        client.batch_write_item(
            RequestItems={
                "t": [{"PutRequest": {"Item": _item(rng)}}, {"DeleteRequest": {"Key": _key(rng)}}]
            }
        )


def _transaction(client: Any, rng: random.Random) -> None:
    """A transaction that commits, or fails its last condition and rolls back."""
    put, other = _item(rng), _item(rng)
    if put["sk"] == other["sk"] and put["pk"] == other["pk"]:
        return
    fail = rng.random() < 0.5
    condition = "attribute_not_exists(nothing)" if not fail else "attribute_exists(nothing)"
    try:
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": "t", "Item": put}},
            {"Put": {"TableName": "t", "Item": other, "ConditionExpression": condition}},
        ])  # fmt: skip
    except client.exceptions.TransactionCanceledException:
        assert fail


def _query(rng: random.Random) -> dict[str, Any]:
    index = rng.choice([None, "gsi1", "gsi2"])
    pk, sk = ("pk", "sk") if index is None else (f"g{index[3]}pk", f"g{index[3]}sk")
    request: dict[str, Any] = {"TableName": "t", "ScanIndexForward": rng.random() < 0.5,
                               "ExpressionAttributeNames": {"#p": pk, "#s": sk}}  # fmt: skip
    values = {":p": {"S": rng.choice(PARTS)}}
    condition = "#p = :p"
    operator = rng.choice(["", "=", "<", "<=", ">", ">=", "between", "begins_with"])
    low, high = sorted([_value(rng), _value(rng)])
    if operator == "between":
        condition += " AND #s BETWEEN :lo AND :hi"
        values.update({":lo": {"S": low}, ":hi": {"S": high}})
    elif operator == "begins_with":
        condition += " AND begins_with(#s, :lo)"
        values[":lo"] = {"S": rng.choice(SORTS[1:])}
    elif operator:
        condition += f" AND #s {operator} :lo"
        values[":lo"] = {"S": low}
    if rng.random() < 0.3:
        request["FilterExpression"] = "n < :n"
        values[":n"] = {"N": "5"}
    if rng.random() < 0.7:
        request["Limit"] = rng.randrange(1, 6)
    if index is not None:
        request["IndexName"] = index
    if not operator:
        del request["ExpressionAttributeNames"]["#s"]
    request["KeyConditionExpression"] = condition
    request["ExpressionAttributeValues"] = values
    return request


def _pages(client: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    while True:
        answer = client.query(**request)
        answer.pop("ResponseMetadata")
        pages.append(answer)
        if "LastEvaluatedKey" not in answer or len(pages) > 60:
            return pages
        request = {**request, "ExclusiveStartKey": answer["LastEvaluatedKey"]}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sorted_indexes_answer_as_moto_does(aws: None, seed: int) -> None:
    make_moto_indexes_sorted()
    make_moto_transactions_cheap()
    client = boto3.client("dynamodb", region_name="us-east-1")
    _create(client)
    rng = random.Random(seed)
    compared = 0
    for _ in range(STEPS):
        _write(client, rng)
        request = _query(rng)
        before = ANSWERED["moto"]
        ours = _pages(client, request)
        assert ANSWERED["moto"] == before, request  # every page came from the sorted index
        with moto_own_query():
            theirs = _pages(client, request)
        assert ours == theirs, request
        compared += sum(len(page["Items"]) for page in ours)
    assert compared > STEPS  # the queries found items, not only empty pages


def test_the_indexes_are_used_and_kept_not_rebuilt(aws: None) -> None:
    """After the first Query builds them, writes move entries: the same index object answers,
    and it holds exactly the items that have its keys."""
    from moto.dynamodb.models import dynamodb_backends

    make_moto_indexes_sorted()
    client = boto3.client("dynamodb", region_name="us-east-1")
    _create(client)
    rng = random.Random(7)
    for _ in range(50):
        client.put_item(TableName="t", Item=_item(rng))
    client.query(TableName="t", IndexName="gsi1", KeyConditionExpression="g1pk = :p",
                 ExpressionAttributeValues={":p": {"S": "a"}})  # fmt: skip
    table = dynamodb_backends["123456789012"]["us-east-1"].tables["t"]
    built = indexes_of(table).by_name["gsi1"][1]
    for _ in range(100):
        _write(client, rng)
    assert indexes_of(table).by_name["gsi1"][1] is built
    indexed = {(e[-2].value, e[-1].value) for part in built.parts.values() for e in part}
    stored = client.scan(TableName="t", IndexName="gsi1")["Items"]
    assert indexed == {(i["pk"]["S"], i["sk"]["S"]) for i in stored}
