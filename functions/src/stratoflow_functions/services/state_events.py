"""Flow-run state changes, read from the table's stream and published to EventBridge.

The DynamoDB stream carries every write to the one table. This service picks out the flow-run
items whose state type or name changed (or that were created), maps each to one EventBridge
entry with detail-type `Stratoflow Flow Run State Change`, and publishes them in batches of ten
(the PutEvents limit). It returns the stream records whose entries EventBridge refused, so the
handler can report them as batch item failures and Lambda retries from the first of them.
`handle_stream_batch` also writes each flow-run change's state-history item and counter moves
(`store.run_counting`) and reports a record as failed if either part failed for it.
The events client and the history writer are injected; nothing here reads the environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

EVENT_SOURCE = "stratoflow"
"""The `source` of every event Stratoflow publishes."""

STATE_CHANGE_DETAIL_TYPE = "Stratoflow Flow Run State Change"
"""The `detail-type` of a flow-run state change event."""

FLOW_RUN_ENTITY = "flow_run"
_PUT_EVENTS_LIMIT = 10
_STREAM_EVENTS = frozenset({"INSERT", "MODIFY"})

Record = Mapping[str, Any]
"""One DynamoDB stream record as Lambda delivers it (DynamoDB-JSON images)."""


class EventsClient(Protocol):
    """The one EventBridge call this service makes (a boto3 `events` client fits)."""

    def put_events(
        self,
        *,
        Entries: Sequence[Mapping[str, Any]],  # noqa: N803 - boto3's keyword, as it is spelled
    ) -> Mapping[str, Any]:
        """Publish up to ten entries; see EventBridge PutEvents."""
        ...


class HistoryWriter(Protocol):
    """Writes the state history and run counters of stream records (`store.run_counting`)."""

    def record(self, records: Sequence[Mapping[str, Any]]) -> list[str]:
        """Write what `records` add; the sequence numbers not written (first failure onward)."""
        ...


@dataclass(frozen=True)
class FlowRunStateChange:
    """The `detail` of one state-change event: which run, where it was, where it is now."""

    flow_run_id: str
    flow_id: str | None
    flow_name: str | None
    deployment_id: str | None
    state_type: str
    state_name: str | None
    previous_state_type: str | None
    previous_state_name: str | None
    version: int | None

    def to_entry(self, event_bus_name: str) -> dict[str, str]:
        """Render this change as a PutEvents entry on `event_bus_name`."""
        return {
            "Source": EVENT_SOURCE,
            "DetailType": STATE_CHANGE_DETAIL_TYPE,
            "Detail": json.dumps(asdict(self), separators=(",", ":")),
            "EventBusName": event_bus_name,
        }


@dataclass(frozen=True)
class PublishResult:
    """What happened to one batch of stream records."""

    published: int
    failed_sequence_numbers: tuple[str, ...]


def _plain(image: Mapping[str, Any] | None, name: str) -> str | None:
    """Read one string or number attribute out of a DynamoDB-JSON image."""
    if not image or name not in image:
        return None
    value = image[name]
    for kind in ("S", "N"):
        if kind in value:
            return str(value[kind])
    return None


def _version(image: Mapping[str, Any]) -> int | None:
    raw = _plain(image, "version")
    return int(raw) if raw is not None else None


def _state_changed(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """A new run, or a run whose state type or name differs from the old image's."""
    if not old:
        return True
    return any(_plain(new, key) != _plain(old, key) for key in ("state_type", "state_name"))


def state_change_from_record(record: Record) -> FlowRunStateChange | None:
    """Map one stream record to a state change, or None when it is not one.

    Args:
        record: a DynamoDB stream record with NEW_AND_OLD_IMAGES.

    Returns:
        The change for a flow-run item whose state changed; None for other items, removals,
        and writes that left the state alone (heartbeats, say).
    """
    if record.get("eventName") not in _STREAM_EVENTS:
        return None
    data = record.get("dynamodb", {})
    new, old = data.get("NewImage"), data.get("OldImage")
    if not new or _plain(new, "entity") != FLOW_RUN_ENTITY:
        return None
    run_id, state_type = _plain(new, "id"), _plain(new, "state_type")
    if run_id is None or state_type is None or not _state_changed(new, old):
        return None
    return FlowRunStateChange(
        flow_run_id=run_id,
        flow_id=_plain(new, "flow_id"),
        flow_name=_plain(new, "flow_name"),
        deployment_id=_plain(new, "deployment_id"),
        state_type=state_type,
        state_name=_plain(new, "state_name"),
        previous_state_type=_plain(old, "state_type"),
        previous_state_name=_plain(old, "state_name"),
        version=_version(new),
    )


def _changes(records: Iterable[Record]) -> list[tuple[str, FlowRunStateChange]]:
    """Pair each state change with its record's sequence number, in stream order."""
    pairs = []
    for record in records:
        change = state_change_from_record(record)
        if change is not None:
            sequence = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
            pairs.append((sequence, change))
    return pairs


def _failed_in(response: Mapping[str, Any], sequences: Sequence[str]) -> list[str]:
    """The sequence numbers whose entries PutEvents answered with an error code."""
    if not response.get("FailedEntryCount"):
        return []
    results = response.get("Entries", [])
    return [seq for seq, result in zip(sequences, results, strict=False) if "ErrorCode" in result]


def publish_state_changes(
    records: Iterable[Record], events: EventsClient, event_bus_name: str
) -> PublishResult:
    """Publish every flow-run state change in `records` to `event_bus_name`.

    Args:
        records: DynamoDB stream records, in stream order.
        events: an EventBridge client.
        event_bus_name: the bus to publish on (name or ARN).

    Returns:
        How many events were published, and the sequence numbers of the records whose
        events were refused (to retry).
    """
    pairs = _changes(records)
    failed: list[str] = []
    for start in range(0, len(pairs), _PUT_EVENTS_LIMIT):
        chunk = pairs[start : start + _PUT_EVENTS_LIMIT]
        entries = [change.to_entry(event_bus_name) for _, change in chunk]
        response = events.put_events(Entries=entries)
        failed.extend(_failed_in(response, [seq for seq, _ in chunk]))
    return PublishResult(published=len(pairs) - len(failed), failed_sequence_numbers=tuple(failed))


def _sequence(record: Record) -> str:
    return str(record.get("dynamodb", {}).get("SequenceNumber", ""))


def handle_stream_batch(
    records: Sequence[Record], events: EventsClient, event_bus_name: str, history: HistoryWriter
) -> PublishResult:
    """Write the history and counters of `records`, then publish their state changes.

    The records from the first whose history write failed onward are not published (they are
    redelivered, and published then); a record fails if either part failed for it.

    Returns:
        How many events were published, and the failed sequence numbers in stream order.
    """
    not_written = set(history.record(records))
    written = [record for record in records if _sequence(record) not in not_written]
    result = publish_state_changes(written, events, event_bus_name)
    failed = not_written | set(result.failed_sequence_numbers)
    in_order = dict.fromkeys(_sequence(record) for record in records)
    ordered = tuple(sequence for sequence in in_order if sequence in failed)
    return PublishResult(published=result.published, failed_sequence_numbers=ordered)
