"""API keys and the error body."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from stratoflow.schemas.common import Name

API_KEY_PREFIX = "sf_"


class ApiKeyScope(StrEnum):
    """What a key may do: `admin` also manages API keys."""

    ADMIN = "admin"
    REGULAR = "regular"


class ApiKeyCreate(BaseModel):
    """Create an API key (admins only)."""

    name: Name
    scope: ApiKeyScope = ApiKeyScope.REGULAR


class ApiKey(BaseModel):
    """An API key's record; the secret itself is never returned again after creation."""

    id: UUID
    name: str
    scope: ApiKeyScope
    prefix: str = Field(description="the first characters of the key, to recognise it")
    created: datetime
    revoked: bool = False


class ApiKeyCreated(ApiKey):
    """The answer to a create: the only time the full key is shown."""

    key: str


class ErrorDetail(BaseModel):
    """A machine-readable code and a human message."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the API has this body."""

    error: ErrorDetail


class Health(BaseModel):
    """`GET /health`."""

    status: str = "ok"
    version: str
