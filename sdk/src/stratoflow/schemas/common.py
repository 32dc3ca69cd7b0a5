"""Shared field helpers and limits for the wire schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, StringConstraints

MAX_MESSAGE_CHARS = 4_096
"""State messages are capped so a run item always fits DynamoDB's item limit."""

MAX_LOG_MESSAGE_CHARS = 16_384
MAX_PARAMETERS_BYTES = 64 * 1024
"""Parameters larger than this (as JSON) are rejected with 413; pass large data by reference."""

MAX_JSON_DEPTH = 64
"""How deeply arrays and objects may nest in a request body (parameters included); deeper is a
400, refused before it can exhaust a parser's recursion."""

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\- ]*$"),
]
"""A user-chosen name: flows, deployments, work queues, API keys."""

Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
]

T = TypeVar("T")


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive time is read as UTC.

    Raises:
        ValueError: the time cannot be expressed in UTC (year 1 at a positive offset, year 9999
            at a negative one): a 422 naming the field, not an OverflowError deep in a key.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is out of range in UTC") from None


UtcTime = Annotated[datetime, AfterValidator(as_utc)]
"""A time the server accepts: normalised to UTC, so every key built from it is in range."""


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def cap_text(value: str | None, limit: int) -> str | None:
    """Truncate `value` to `limit` characters, marking the cut."""
    if value is None or len(value) <= limit:
        return value
    marker = "… [truncated]"
    return value[: limit - len(marker)] + marker


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_token` back to get the next page."""

    items: list[T]
    next_token: str | None = None
