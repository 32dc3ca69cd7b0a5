"""Create Stratoflow's table: the exact shape the CDK stack deploys (keys, GSIs, TTL, stream).

Used by the functional tests and by the local stack on first start; on AWS the CDK stack owns
the table and this is never called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3

from stratoflow_functions.config import Settings
from stratoflow_functions.store.models import GSI_COUNT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TTL_ATTRIBUTE = "expires_at"


def table_definition(table_name: str) -> dict[str, Any]:
    """The CreateTable request for the table (pure, so the CDK side can be checked against it)."""
    key_names = ["pk", "sk"] + [
        f"gsi{n}{part}" for n in range(1, GSI_COUNT + 1) for part in ("pk", "sk")
    ]
    return {
        "TableName": table_name,
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in key_names
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "GlobalSecondaryIndexes": [_gsi(n) for n in range(1, GSI_COUNT + 1)],
    }


def _gsi(n: int) -> dict[str, Any]:
    return {
        "IndexName": f"gsi{n}",
        "KeySchema": [
            {"AttributeName": f"gsi{n}pk", "KeyType": "HASH"},
            {"AttributeName": f"gsi{n}sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def dynamodb_client(settings: Settings) -> DynamoDBClient:
    """A DynamoDB client for the region and endpoint of `settings`."""
    return boto3.client(
        "dynamodb", region_name=settings.region, endpoint_url=settings.aws_endpoint_url
    )


def create_table(settings: Settings, client: DynamoDBClient | None = None) -> None:
    """Create the table with its GSIs, stream and TTL, and wait until it is active.

    Args:
        settings: Table name, region and endpoint.
        client: A DynamoDB client; built from `settings` when omitted.
    """
    dynamodb = client or dynamodb_client(settings)
    dynamodb.create_table(**table_definition(settings.table_name))
    dynamodb.get_waiter("table_exists").wait(
        TableName=settings.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    dynamodb.update_time_to_live(
        TableName=settings.table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
