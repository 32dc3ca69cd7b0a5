"""The local stack's stand-in for the stream event source mapping: the emulated table's
DynamoDB stream read on a short poll and handed to the same batch handling the Lambda runs
(`services.state_events.handle_stream_batch`): the state-history items and run counters are
written, and flow-run state changes put on the emulated EventBridge bus.

Reading starts at the stream's LATEST position when the stack starts, so the writes replayed
while restoring the emulator are not published a second time. Records not written or
whose events were refused are retried on the next poll, as Lambda retries a batch item failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from stratoflow_functions.services.state_events import (
    EventsClient,
    HistoryWriter,
    handle_stream_batch,
)

logger = logging.getLogger(__name__)
POLL_SECONDS = 1.0


class StreamPublisher:
    """Polls every shard of one table's stream, writes its history and counters, and publishes
    its state changes."""

    def __init__(
        self,
        streams: Any,
        dynamodb: Any,
        events: EventsClient,
        history: HistoryWriter,
        *,
        table_name: str,
        event_bus_name: str,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.streams = streams
        self.dynamodb = dynamodb
        self.events = events
        self.history = history
        self.table_name = table_name
        self.event_bus_name = event_bus_name
        self.poll_seconds = poll_seconds
        self.published = 0
        self._arn = ""
        self._iterators: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Take the LATEST position of every shard and start polling in a daemon thread."""
        table = self.dynamodb.describe_table(TableName=self.table_name)["Table"]
        self._arn = table["LatestStreamArn"]
        self._add_new_shards(start="LATEST")
        self._thread = threading.Thread(target=self._loop, name="stratoflow-stream", daemon=True)
        self._thread.start()

    def _add_new_shards(self, start: str) -> None:
        description = self.streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                answer = self.streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType=start
                )
                self._iterators[shard_id] = answer["ShardIterator"]

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll_once()
            except Exception:  # the emulator going away at shutdown, say; try again next poll
                logger.exception("reading the table stream failed")

    def poll_once(self) -> int:
        """Read every shard once and publish what changed; how many events went out."""
        self._add_new_shards(start="TRIM_HORIZON")
        published = 0
        for shard_id, iterator in list(self._iterators.items()):
            published += self._poll_shard(shard_id, iterator)
        self.published += published
        return published

    def _poll_shard(self, shard_id: str, iterator: str) -> int:
        answer = self.streams.get_records(ShardIterator=iterator)
        records: list[Mapping[str, Any]] = answer.get("Records", [])
        result = handle_stream_batch(records, self.events, self.event_bus_name, self.history)
        if result.failed_sequence_numbers:
            # retry from the first refused record, as Lambda does with batch item failures
            first = result.failed_sequence_numbers[0]
            self._iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self._arn,
                ShardId=shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=first,
            )["ShardIterator"]
        elif answer.get("NextShardIterator"):
            self._iterators[shard_id] = answer["NextShardIterator"]
        return result.published

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
