"""Log lines, stored in chunks: one item holds many lines of one flow run (under ~300 KB).

A chunk's sort key is `{first line time}#{write id}#{chunk no}`, so chunks read back in time
order; lines inside a chunk are sorted by (timestamp, seq), `seq` being the line's position in
its write. A page token is (chunk sort key, lines already read from it). Every chunk carries the
TTL `expires_at` = write time + `Settings.log_retention_days`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from uuid import UUID, uuid4

from pydantic import TypeAdapter

from stratoflow.schemas import Log, LogCreate, Page
from stratoflow_functions.errors import BadRequestError
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors
from stratoflow_functions.store.items import LogChunkItem
from stratoflow_functions.store.keys import expiry, logs_pk, time_key
from stratoflow_functions.store.pages import BAD_CURSOR, decode_token, encode_token, live

MAX_CHUNK_BYTES = 300_000
"""Bytes of JSON per item: well under DynamoDB's 400 KB, leaving room for keys and names."""
CHUNKS_PER_PAGE = 10
_LINES = TypeAdapter(list[Log])


def chunk_lines(lines: list[Log], max_bytes: int = MAX_CHUNK_BYTES) -> list[list[Log]]:
    """Split ordered lines into runs whose JSON stays under `max_bytes`."""
    chunks: list[list[Log]] = []
    current: list[Log] = []
    size = 2
    for line in lines:
        line_size = len(line.model_dump_json().encode()) + 1
        if current and size + line_size > max_bytes:
            chunks.append(current)
            current, size = [], 2
        current.append(line)
        size += line_size
    if current:
        chunks.append(current)
    return chunks


def _by_run(lines: list[LogCreate]) -> dict[UUID, list[Log]]:
    grouped: dict[UUID, list[Log]] = {}
    for seq, line in enumerate(lines):
        grouped.setdefault(line.flow_run_id, []).append(Log(**line.model_dump(), seq=seq))
    return {
        run_id: sorted(run_lines, key=lambda log: (log.timestamp, log.seq))
        for run_id, run_lines in grouped.items()
    }


class LogRepository:
    """Log lines of flow runs, in time order."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx
        self._chunks_of = ctx.models.log_chunk

    def write(self, lines: list[LogCreate], now: datetime) -> int:
        """Store a batch of lines (of one or more runs) in as few items as fit.

        Returns:
            How many lines were stored.
        """
        write_id = f"{time_key(now)}#{uuid4().hex[:12]}"
        expires_at = expiry(now, self._ctx.settings.log_retention_days)
        items = [
            self._chunk_item(run_id, chunk, _chunk_sk(chunk, write_id, n), expires_at)
            for run_id, run_lines in _by_run(lines).items()
            for n, chunk in enumerate(chunk_lines(run_lines))
        ]
        with dynamo_errors(), self._chunks_of.batch_write() as batch:
            for item in items:
                batch.save(item)
        return len(lines)

    def _chunk_item(self, run_id: UUID, chunk: list[Log], sk: str, expires_at: int) -> LogChunkItem:
        return self._chunks_of(
            logs_pk(run_id),
            sk,
            flow_run_id=str(run_id),
            lines=_LINES.dump_json(chunk).decode(),
            expires_at=expires_at,
        )

    def read(self, flow_run_id: UUID, limit: int, next_token: str | None) -> Page[Log]:
        """Lines of a flow run in time order (stable for lines with the same timestamp).

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        start_sk, skip = _position(next_token)
        found: list[Log] = []
        for sk, lines in self._chunks(flow_run_id, start_sk):
            first = skip if sk == start_sk else 0
            for offset in range(first, len(lines)):
                if len(found) == limit:
                    return Page[Log](items=found, next_token=_token(sk, offset))
                found.append(lines[offset])
        return Page[Log](items=found, next_token=None)

    def _chunks(self, flow_run_id: UUID, start_sk: str | None) -> Iterator[tuple[str, list[Log]]]:
        item = self._chunks_of
        with dynamo_errors():
            for chunk in item.query(
                logs_pk(flow_run_id),
                range_key_condition=None if start_sk is None else item.sk >= start_sk,
                filter_condition=live(item, self._ctx.clock()),
                consistent_read=True,
                page_size=CHUNKS_PER_PAGE,
            ):
                yield chunk.sk, _LINES.validate_json(chunk.lines or "[]")


def _chunk_sk(chunk: list[Log], write_id: str, n: int) -> str:
    return f"{time_key(chunk[0].timestamp)}#{write_id}#{n:04d}"


def _token(sk: str, offset: int) -> str:
    return encode_token({"sk": sk, "offset": str(offset)})


def _position(token: str | None) -> tuple[str | None, int]:
    if token is None:
        return None, 0
    key = decode_token(token, ("sk", "offset"))
    if not key["offset"].isdigit():
        raise BadRequestError("next_token is not valid", code=BAD_CURSOR)
    return key["sk"], int(key["offset"])
