"""Log lines shipped by the engine in batches."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from stratoflow.schemas.common import MAX_LOG_MESSAGE_CHARS, UtcTime, cap_text, utcnow

MAX_LOG_BATCH = 1_000


class LogCreate(BaseModel):
    """One log line of a flow run (and optionally one of its task runs)."""

    flow_run_id: UUID
    task_run_id: UUID | None = None
    level: int = Field(default=20, ge=0, le=100)
    name: str = Field(default="stratoflow", max_length=256)
    message: str
    timestamp: UtcTime = Field(default_factory=utcnow)

    @field_validator("message")
    @classmethod
    def _cap(cls, value: str) -> str:
        return cap_text(value, MAX_LOG_MESSAGE_CHARS) or ""


class Log(LogCreate):
    """A stored log line; `seq` orders lines written in the same instant."""

    seq: int = 0


class LogsWritten(BaseModel):
    """How many lines a batch write stored."""

    count: int
