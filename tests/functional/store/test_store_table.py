"""The table's shape, and stores bound to different tables staying apart."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3

from stratoflow.schemas import FlowCreate
from stratoflow_functions.config import Settings
from stratoflow_functions.store import build_store, create_table

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def test_create_table_makes_keys_gsis_stream_and_on_demand_billing(aws: None) -> None:
    create_table(Settings(table_name="shape"))
    table = boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName="shape")[
        "Table"
    ]

    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert sorted(indexes) == ["gsi1", "gsi2", "gsi3", "gsi4", "gsi5"]
    assert [k["AttributeName"] for k in indexes["gsi3"]["KeySchema"]] == ["gsi3pk", "gsi3sk"]
    assert all(i["Projection"]["ProjectionType"] == "ALL" for i in indexes.values())


def test_create_table_enables_ttl_on_expires_at(aws: None) -> None:
    create_table(Settings(table_name="ttl"))
    ttl = boto3.client("dynamodb", region_name="us-east-1").describe_time_to_live(TableName="ttl")

    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"


def test_two_stores_on_different_tables_do_not_cross_wires(aws: None) -> None:
    first_settings, second_settings = Settings(table_name="one"), Settings(table_name="two")
    create_table(first_settings)
    create_table(second_settings)
    first, second = build_store(first_settings), build_store(second_settings)

    first.flows.create_or_get(FlowCreate(name="only-in-one"), NOW)
    second.flows.create_or_get(FlowCreate(name="only-in-two"), NOW)

    assert [f.name for f in first.flows.list(10, None).items] == ["only-in-one"]
    assert [f.name for f in second.flows.list(10, None).items] == ["only-in-two"]
    raw = boto3.client("dynamodb", region_name="us-east-1").scan(TableName="one")["Items"]
    assert {item["entity"]["S"] for item in raw} == {"flow"}
    assert len(raw) == 1
