"""Who is calling: an IAM principal (SigV4, checked by API Gateway), an API key checked by our
Lambda authorizer, or an API key this function checks itself (the local stack, or a route with
no authorizer). Only `/health` needs no caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stratoflow.schemas import ApiKey, ApiKeyScope
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import ForbiddenError, UnauthorizedError

OPEN_PATHS = frozenset({"/health"})
ADMIN_PATH_PREFIXES = ("/api-keys",)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    kind: str
    """`iam` or `api_key`."""
    id: str
    admin: bool


KeyAuthenticator = Callable[[str], ApiKey]


def authenticate(
    event: Mapping[str, Any], settings: Settings, check_key: KeyAuthenticator
) -> Principal | None:
    """The caller of an API Gateway HTTP API (payload v2) event; None for open paths."""
    path = event.get("rawPath", "/")
    if path in OPEN_PATHS:
        return None
    principal = _from_authorizer(event, settings) or _from_bearer(event, check_key)
    if principal is None:
        raise UnauthorizedError(
            "send 'Authorization: Bearer sf_…' or sign the request with SigV4",
            code="missing_credentials",
        )
    if path.startswith(ADMIN_PATH_PREFIXES) and not principal.admin:
        raise ForbiddenError("managing API keys needs an admin caller", code="admin_required")
    return principal


def _from_authorizer(event: Mapping[str, Any], settings: Settings) -> Principal | None:
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    iam = authorizer.get("iam")
    if iam and iam.get("userArn"):
        arn = str(iam["userArn"])
        return Principal(kind="iam", id=arn, admin=_is_admin_arn(arn, settings))
    context = authorizer.get("lambda")
    if context and context.get("key_id"):
        admin = context.get("scope") == ApiKeyScope.ADMIN.value
        return Principal(kind="api_key", id=str(context["key_id"]), admin=admin)
    return None


def _from_bearer(event: Mapping[str, Any], check_key: KeyAuthenticator) -> Principal | None:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("use 'Authorization: Bearer sf_…'", code="invalid_authorization")
    key = check_key(token.strip())
    return Principal(kind="api_key", id=str(key.id), admin=key.scope is ApiKeyScope.ADMIN)


def _is_admin_arn(arn: str, settings: Settings) -> bool:
    return any(arn == entry or arn.startswith(entry) for entry in settings.admin_principals)
