"""Flow-run state changes on the table's stream arrive on EventBridge (moto events + SQS)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from stratoflow_functions.config import Settings
from stratoflow_functions.handlers import state_events as handler_module
from stratoflow_functions.services.state_events import (
    STATE_CHANGE_DETAIL_TYPE,
    publish_state_changes,
    state_change_from_record,
)

BUS = "stratoflow-test"


def _image(**attrs: Any) -> dict[str, Any]:
    return {k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in attrs.items()}


def _run(state_type: str, state_name: str, version: int, **extra: Any) -> dict[str, Any]:
    base = {
        "pk": "FLOW_RUN#r1",
        "sk": "FLOW_RUN#r1",
        "entity": "flow_run",
        "id": "r1",
        "flow_id": "f1",
        "flow_name": "nightly-etl",
        "deployment_id": "d1",
        "state_type": state_type,
        "state_name": state_name,
        "version": version,
    }
    return _image(**(base | extra))


def _record(
    new: dict[str, Any] | None, old: dict[str, Any] | None, seq: str, name: str = "MODIFY"
) -> dict[str, Any]:
    data: dict[str, Any] = {"SequenceNumber": seq}
    if new is not None:
        data["NewImage"] = new
    if old is not None:
        data["OldImage"] = old
    return {"eventName": name, "dynamodb": data}


@dataclass
class Wiring:
    events: Any
    sqs: Any
    queue_url: str


@pytest.fixture
def wiring(aws: None) -> Wiring:
    """A custom bus with a rule on state changes that targets an SQS queue."""
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    events.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName="state-changes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    pattern = {"source": ["stratoflow"], "detail-type": [STATE_CHANGE_DETAIL_TYPE]}
    events.put_rule(Name="all-changes", EventBusName=BUS, EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="all-changes", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    return Wiring(events=events, sqs=sqs, queue_url=queue_url)


def _receive(wiring: Wiring, expected: int, deadline_s: float = 5.0) -> list[dict[str, Any]]:
    """Poll the queue until `expected` events arrived or the deadline passed."""
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + deadline_s
    while len(bodies) < expected and time.monotonic() < deadline:
        got = wiring.sqs.receive_message(QueueUrl=wiring.queue_url, MaxNumberOfMessages=10)
        bodies.extend(json.loads(m["Body"]) for m in got.get("Messages", []))
    return bodies


def test_a_state_change_arrives_on_the_bus_with_run_flow_deployment_and_state(
    wiring: Wiring,
) -> None:
    old = _run("RUNNING", "Running", 3)
    new = _run("FAILED", "Failed", 4)

    result = publish_state_changes([_record(new, old, "100")], wiring.events, BUS)

    assert result.published == 1
    assert result.failed_sequence_numbers == ()
    [event] = _receive(wiring, 1)
    assert event["detail-type"] == "Stratoflow Flow Run State Change"
    assert event["source"] == "stratoflow"
    assert event["detail"] == {
        "flow_run_id": "r1",
        "flow_id": "f1",
        "flow_name": "nightly-etl",
        "deployment_id": "d1",
        "state_type": "FAILED",
        "state_name": "Failed",
        "previous_state_type": "RUNNING",
        "previous_state_name": "Running",
        "version": 4,
    }


def test_a_new_flow_run_counts_as_a_state_change() -> None:
    change = state_change_from_record(
        _record(_run("SCHEDULED", "Scheduled", 1), None, "1", "INSERT")
    )

    assert change is not None
    assert change.state_type == "SCHEDULED"
    assert change.previous_state_type is None


def test_a_write_that_keeps_the_state_publishes_nothing() -> None:
    old = _run("RUNNING", "Running", 3)
    new = _run("RUNNING", "Running", 4, heartbeat_at="2024-06-01T00:00:00Z")

    assert state_change_from_record(_record(new, old, "1")) is None


def test_a_state_name_change_within_a_type_is_published() -> None:
    old = _run("SCHEDULED", "Scheduled", 1)
    new = _run("SCHEDULED", "Late", 2)

    change = state_change_from_record(_record(new, old, "1"))

    assert change is not None
    assert (change.previous_state_name, change.state_name) == ("Scheduled", "Late")


def test_other_items_and_removals_publish_nothing() -> None:
    task_run = _run("FAILED", "Failed", 2, entity="task_run")
    removed = _record(None, _run("FAILED", "Failed", 2), "2", "REMOVE")

    assert state_change_from_record(_record(task_run, None, "1", "INSERT")) is None
    assert state_change_from_record(removed) is None


class _RefusingClient:
    """Refuses the second entry of every batch; records the batch sizes."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def put_events(self, *, Entries: Any) -> dict[str, Any]:  # noqa: N803 - boto3's keyword
        self.batch_sizes.append(len(Entries))
        results: list[dict[str, str]] = [{"EventId": "x"} for _ in Entries]
        if len(results) > 1:
            results[1] = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
        return {"FailedEntryCount": int(len(results) > 1), "Entries": results}


def test_refused_entries_are_reported_by_sequence_number_in_batches_of_ten() -> None:
    records = [
        _record(_run("PENDING", "Pending", 2), _run("SCHEDULED", "Scheduled", 1), str(n))
        for n in range(12)
    ]
    client = _RefusingClient()

    result = publish_state_changes(records, client, BUS)

    assert client.batch_sizes == [10, 2]
    assert result.failed_sequence_numbers == ("1", "11")
    assert result.published == 10


def test_handler_returns_refused_records_as_batch_item_failures() -> None:
    event = {"Records": [_record(_run("PENDING", "Pending", 2), None, "7", "INSERT")] * 2}

    response = handler_module.handle(
        event, _RefusingClient(), Settings(event_bus_name=BUS), _NothingToWrite()
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "7"}]}


class _NothingToWrite:
    """A history writer for records that carry no run `data` (nothing to write, no failure)."""

    def record(self, records: object) -> list[str]:
        return []
