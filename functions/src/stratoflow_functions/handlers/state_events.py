"""Lambda entry point on the table's DynamoDB stream: flow-run state history, run counters,
and state changes to EventBridge.

Thin adapter: the event source mapping already filters the stream to flow-run items; this
handler passes the records to `services.state_events` and reports the records not written or
refused as batch item failures (the mapping has `ReportBatchItemFailures` on), so Lambda
retries only from the first record that did not get through.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from aws_lambda_powertools import Logger

from stratoflow_functions.config import Settings, load_settings
from stratoflow_functions.services.state_events import (
    EventsClient,
    HistoryWriter,
    handle_stream_batch,
)
from stratoflow_functions.store import build_store

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


@cache
def _history() -> HistoryWriter:
    return build_store(_settings()).run_counting


def handle(
    event: dict[str, Any], events: EventsClient, settings: Settings, history: HistoryWriter
) -> dict[str, Any]:
    """Write the history and counters of one stream batch and publish its state changes.

    Args:
        event: the DynamoDB stream event (`Records`).
        events: an EventBridge client.
        settings: the control plane's settings (the event bus name).
        history: the writer of state history and run counters.

    Returns:
        The partial-batch response: `batchItemFailures` with the failed sequence numbers.
    """
    records = event.get("Records", [])
    result = handle_stream_batch(records, events, settings.event_bus_name, history)
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
    return handle(event, _events_client(), _settings(), _history())
