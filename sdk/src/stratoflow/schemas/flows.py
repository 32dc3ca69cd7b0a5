"""Flows, deployments and schedules (SPEC section 3)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from stratoflow.schemas.common import Name, Tag


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: `America`, long names
        raise ValueError(f"unknown IANA timezone {value!r}") from exc
    return value


class FlowCreate(BaseModel):
    """Register a flow by name; registering an existing name returns the existing flow."""

    name: Name
    tags: list[Tag] = Field(default_factory=list, max_length=32)


class Flow(FlowCreate):
    """A registered flow."""

    id: UUID
    created: datetime


class CronSchedule(BaseModel):
    """A cron expression evaluated in an IANA timezone (DST-correct)."""

    type: Literal["cron"] = "cron"
    cron: str = Field(min_length=5, max_length=256, examples=["0 2 * * *"])
    timezone: str = "UTC"
    day_or: bool = True

    _tz = field_validator("timezone")(_check_timezone)


class IntervalSchedule(BaseModel):
    """Every `interval_seconds`, counted from `anchor_date`."""

    type: Literal["interval"] = "interval"
    interval_seconds: float = Field(ge=1, le=366 * 86_400)
    anchor_date: datetime | None = None
    timezone: str = "UTC"

    _tz = field_validator("timezone")(_check_timezone)


class RRuleSchedule(BaseModel):
    """An RFC 5545 recurrence rule (DTSTART may be given inside the rule)."""

    type: Literal["rrule"] = "rrule"
    rrule: str = Field(min_length=5, max_length=4096)
    timezone: str = "UTC"

    _tz = field_validator("timezone")(_check_timezone)


Schedule = Annotated[CronSchedule | IntervalSchedule | RRuleSchedule, Field(discriminator="type")]


class DeploymentScheduleCreate(BaseModel):
    """One schedule of a deployment, with parameters that override the deployment's."""

    schedule: Schedule
    active: bool = True
    parameters: dict[str, Any] = Field(default_factory=dict)


class DeploymentSchedule(DeploymentScheduleCreate):
    """A schedule as stored: it has a stable id used in idempotency keys."""

    id: UUID = Field(default_factory=uuid4)


class InfrastructureType(StrEnum):
    """Where a deployment's runs execute."""

    LOCAL = "local"
    DOCKER = "docker"
    KUBERNETES = "kubernetes"
    VERTEX = "vertex"
    ECS = "ecs"


class CodeBundle(BaseModel):
    """Flow code packed by `stratoflow deploy` and stored by content hash."""

    type: Literal["bundle"] = "bundle"
    uri: str = Field(min_length=1, max_length=2048, description="s3://bucket/key of the zip")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class CodeImage(BaseModel):
    """A container image with the flow code inside."""

    type: Literal["image"] = "image"
    image: str = Field(min_length=1, max_length=512)


CodeSource = Annotated[CodeBundle | CodeImage, Field(discriminator="type")]


class DeploymentCreate(BaseModel):
    """Create or update (by flow and name) a deployment."""

    flow_id: UUID
    name: Name
    entrypoint: str = Field(
        min_length=3,
        max_length=512,
        pattern=r"^[^:]+:[A-Za-z_][A-Za-z0-9_]*$",
        examples=["flows/etl.py:nightly_etl"],
    )
    description: str | None = Field(default=None, max_length=2048)
    code: CodeSource | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    work_queue: Name = "default"
    infrastructure: InfrastructureType = InfrastructureType.LOCAL
    infra_overrides: dict[str, Any] = Field(
        default_factory=dict, description="infrastructure settings (image, cpu, memory, ...)"
    )
    schedules: list[DeploymentScheduleCreate] = Field(default_factory=list, max_length=20)
    paused: bool = False
    concurrency_limit: int | None = Field(default=None, ge=1, le=10_000)
    tags: list[Tag] = Field(default_factory=list, max_length=32)


class Deployment(BaseModel):
    """A deployment: how and when a flow runs."""

    id: UUID
    flow_id: UUID
    flow_name: str
    name: str
    entrypoint: str
    description: str | None = None
    code: CodeSource | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    work_queue: str = "default"
    infrastructure: InfrastructureType = InfrastructureType.LOCAL
    infra_overrides: dict[str, Any] = Field(default_factory=dict)
    schedules: list[DeploymentSchedule] = Field(default_factory=list)
    paused: bool = False
    concurrency_limit: int | None = None
    tags: list[str] = Field(default_factory=list)
    created: datetime
    updated: datetime


class CodeUploadRequest(BaseModel):
    """Ask where to upload a packed code bundle (`POST /code-bundles`)."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1, le=512 * 1024 * 1024)


class CodeUpload(BaseModel):
    """Where a bundle lives and, unless it is there already, a short-lived URL to PUT it to."""

    uri: str
    exists: bool
    upload_url: str | None = None


class CodeDownload(BaseModel):
    """A short-lived URL to GET a stored bundle (`GET /code-bundles/{sha256}`)."""

    uri: str
    download_url: str
