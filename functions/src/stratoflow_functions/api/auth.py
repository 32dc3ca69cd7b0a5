"""Who is calling: an IAM principal (SigV4, checked by API Gateway), an API key checked by our
Lambda authorizer, or an API key this function checks itself (the local stack, or a route with
no authorizer). Only `/health` and the dashboard's static files (`/ui`, served before this
runs: `api/ui.py`) need no caller.

An IAM caller is an admin when it is one of `STRATOFLOW_ADMIN_PRINCIPALS`, compared as IAM
identities, never as strings: a role (`arn:aws:iam::ACCOUNT:role/path/Name`) matches its
sessions (`arn:aws:sts::ACCOUNT:assumed-role/Name/SESSION`, which carry no path) and nothing
else; a user, a federated user, the account root or one role session matches only itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

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
    return is_admin_principal(arn, settings.admin_principals)


IdentityKind = Literal["root", "user", "role", "federated-user"]


@dataclass(frozen=True)
class IamIdentity:
    """Who an IAM or STS ARN names: partition, account, kind, name and (a role's) session."""

    partition: str
    account: str
    kind: IdentityKind
    name: str
    session: str | None = None


def is_admin_principal(caller_arn: str, admins: Iterable[str]) -> bool:
    """Whether the caller (the ARN API Gateway passes) is one of the admin principals.

    Entries that are not an IAM or STS principal ARN match nobody.
    """
    caller = parse_principal_arn(caller_arn)
    if caller is None:
        return False
    return any(_names(entry, caller) for entry in admins)


def _names(entry: str, caller: IamIdentity) -> bool:
    admin = parse_principal_arn(entry.strip())
    if admin is None:
        return False
    if admin.kind == "role" and admin.session is None:
        # Role names are unique in an account whatever their path, and a session's ARN drops
        # the path: the role matches every session of it, and only those.
        session = caller.kind == "role" and caller.session is not None
        return session and admin == IamIdentity(
            caller.partition, caller.account, "role", caller.name
        )
    return admin == caller


def parse_principal_arn(arn: str) -> IamIdentity | None:
    """The identity an IAM (`root`, `user/...`, `role/...`) or STS (`assumed-role/...`,
    `federated-user/...`) ARN names; None for anything else."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[3] or not parts[1] or not parts[4]:
        return None
    _, partition, service, _, account, resource = parts
    found = _resource(service, resource)
    if found is None:
        return None
    kind, name, session = found
    return IamIdentity(partition, account, kind, name, session)


def _resource(service: str, resource: str) -> tuple[IdentityKind, str, str | None] | None:
    if service == "iam" and resource == "root":
        return "root", "", None
    kind, _, rest = resource.partition("/")
    segments = rest.split("/")
    if "" in segments:
        return None  # no name, or an empty path segment: not an ARN IAM ever issues
    if service == "iam" and kind in ("user", "role"):
        return ("user" if kind == "user" else "role"), segments[-1], None
    if service == "sts" and kind == "assumed-role" and len(segments) <= 2:
        return "role", segments[0], (segments[1] if len(segments) == 2 else None)
    if service == "sts" and kind == "federated-user" and len(segments) == 1:
        return "federated-user", segments[0], None
    return None
