"""Lambda entry point on the table's DynamoDB stream: flow-run state changes to EventBridge.

Thin adapter: the event source mapping already filters the stream to flow-run items; this
handler passes the records to `services.state_events` and reports refused entries as batch
item failures (the mapping has `ReportBatchItemFailures` on), so Lambda retries only from the
first record that did not get through.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from aws_lambda_powertools import Logger

from stratoflow_functions.config import Settings, load_settings
from stratoflow_functions.services.state_events import EventsClient, publish_state_changes

logger = Logger(service="stratoflow")


@cache
def _settings() -> Settings:
    return load_settings()


@cache
def _events_client() -> EventsClient:
    # Built lazily so importing the module (and cold start) stays cheap; boto3 comes from
    # the Lambda runtime.
    import boto3

    settings = _settings()
    client = boto3.client(
        "events", region_name=settings.region, endpoint_url=settings.aws_endpoint_url
    )
    return cast(EventsClient, client)


def handle(event: dict[str, Any], events: EventsClient, settings: Settings) -> dict[str, Any]:
    """Publish the state changes in one stream batch.

    Args:
        event: the DynamoDB stream event (`Records`).
        events: an EventBridge client.
        settings: the control plane's settings (the event bus name).

    Returns:
        The partial-batch response: `batchItemFailures` with the refused sequence numbers.
    """
    result = publish_state_changes(event.get("Records", []), events, settings.event_bus_name)
    logger.info(
        "state changes published",
        extra={"published": result.published, "failed": len(result.failed_sequence_numbers)},
    )
    return {
        "batchItemFailures": [
            {"itemIdentifier": sequence} for sequence in result.failed_sequence_numbers
        ]
    }


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: `stratoflow_functions.handlers.state_events.handler`."""
    return handle(event, _events_client(), _settings())
