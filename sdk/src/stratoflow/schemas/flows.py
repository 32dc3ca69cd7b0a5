"""Flows, deployments and schedules (SPEC section 3)."""

from __future__ import annotations

import keyword
import re
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


def check_entrypoint(value: str) -> str:
    """Check an entrypoint is `path/to/file.py:function` inside the code folder.

    The path is relative, in posix form, and cannot step out of the folder: no leading `/`,
    no `..` segment, no backslash, drive letter or other `:`, no NUL or control character.
    The function is a Python identifier. The API refuses anything else (422) and the loader
    re-checks before it imports, so an entrypoint can never name a file outside the code.

    Raises:
        ValueError: the entrypoint is not of that form, with the reason.
    """
    path, sep, function = value.rpartition(":")
    if not sep or not path:
        raise ValueError("entrypoint must be path/to/file.py:function")
    if not function.isidentifier() or keyword.iskeyword(function):
        raise ValueError(f"entrypoint function {function!r} is not a Python identifier")
    problem = _entrypoint_path_problem(path)
    if problem:
        raise ValueError(f"entrypoint path {path!r} {problem}")
    return value


def _entrypoint_path_problem(path: str) -> str | None:
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        return "contains a NUL or control character"
    if "\\" in path or ":" in path:
        return "contains a backslash or a colon: use a posix path relative to the code folder"
    if path.startswith("/"):
        return "is absolute: use a path relative to the code folder"
    if ".." in path.split("/"):
        return "contains '..': the entrypoint must stay inside the code folder"
    if not path.endswith(".py"):
        return "is not a .py file"
    return None


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
    anchor_date: datetime | None = None  # not UtcTime: a naive anchor is in `timezone`
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
    LAMBDA = "lambda"
    """Inside an AWS Lambda invocation of the stack's runner function (flows under 15 min)."""


class CodeBundle(BaseModel):
    """Flow code packed by `stratoflow deploy` and stored by content hash."""

    type: Literal["bundle"] = "bundle"
    uri: str = Field(min_length=1, max_length=2048, description="s3://bucket/key of the zip")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


_IMAGE_HOST_PART = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_IMAGE_DOMAIN = rf"(?:{_IMAGE_HOST_PART}(?:\.{_IMAGE_HOST_PART})*(?::[0-9]+)?/)?"
_IMAGE_NAME = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
_IMAGE_TAG = r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
_IMAGE_DIGEST = r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
IMAGE_REFERENCE_PATTERN = f"^{_IMAGE_DOMAIN}{_IMAGE_NAME}{_IMAGE_TAG}{_IMAGE_DIGEST}$"
"""A container image reference as Docker reads one: `[registry[:port]/]name[:tag][@digest]`."""
_IMAGE_REFERENCE = re.compile(IMAGE_REFERENCE_PATTERN)


class CodeImage(BaseModel):
    """A container image with the flow code inside."""

    type: Literal["image"] = "image"
    image: str = Field(
        min_length=1,
        max_length=512,
        examples=["123456789012.dkr.ecr.eu-west-1.amazonaws.com/etl:1.2"],
        description="a container image reference: [registry[:port]/]name[:tag][@digest]",
        json_schema_extra={"pattern": IMAGE_REFERENCE_PATTERN},
    )

    @field_validator("image")
    @classmethod
    def _an_image_reference(cls, value: str) -> str:
        # Checked here rather than by `pattern`, so the message says what is expected.
        if not _IMAGE_REFERENCE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a container image reference "
                "([registry[:port]/]name[:tag][@digest], e.g. ghcr.io/acme/etl:1.2)"
            )
        return value


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
        description="path/to/file.py:function, the path relative to the code folder (no `..`)",
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
    flow_version: str | None = Field(
        default=None, max_length=128, description="the flow's version; runs of it record it"
    )
    parameter_schema: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema (an object schema) of the flow's parameters, made from its "
        "signature by `stratoflow deploy`; runs' parameters are checked against it",
    )

    @field_validator("entrypoint", mode="before")
    @classmethod
    def _entrypoint_inside_the_code(cls, value: Any) -> Any:
        # Before the pattern, so a bad path gets a message saying what is wrong with it.
        return check_entrypoint(value) if isinstance(value, str) else value


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
    flow_version: str | None = None
    parameter_schema: dict[str, Any] | None = None
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
