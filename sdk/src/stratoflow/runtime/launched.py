"""What `stratoflow execute` learns from the platform that launched it, read once at start.

The infrastructure id it reports on heartbeats: `STRATOFLOW_INFRASTRUCTURE_ID` if the launcher
set one, else on ECS the task ARN from the task metadata endpoint (`$ECS_CONTAINER_METADATA_URI_V4
/task`, one try with a 1 s timeout; any failure falls back), else the pid for a `stratoflow
execute` started by hand, and none at all for one an agent or a launcher started (it has
`STRATOFLOW_FLOW_RUN_ID` in its environment): that launcher recorded the run's id itself, and a
heartbeat without one keeps it, where `pid:1` from a container would overwrite it. And, for
platforms that cannot inject a secret into the environment (Vertex), the API key itself: when
`STRATOFLOW_API_KEY` is unset and `STRATOFLOW_API_KEY_SECRET` names a GCP Secret Manager
version, it is read through Secret Manager's REST API with google-auth's default credentials
(the optional `gcp` extra, imported only then).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import httpx

SECRET_MANAGER_URL = "https://secretmanager.googleapis.com"  # noqa: S105 (a URL, not a secret)
SECRET_VERSION = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
METADATA_TIMEOUT_SECONDS = 1.0

TokenSource = Callable[[], str]
"""Returns an OAuth2 access token for Google APIs."""


class ApiKeySecretError(RuntimeError):
    """The API key's secret reference cannot be resolved; the message says why."""


@dataclass(frozen=True)
class LaunchSettings:
    """The launch environment of this process.

    Attributes:
        infrastructure_id: `STRATOFLOW_INFRASTRUCTURE_ID`, the id the launcher gave.
        launched: whether `STRATOFLOW_FLOW_RUN_ID` is set: an agent or a launcher started us.
        ecs_metadata_uri: `ECS_CONTAINER_METADATA_URI_V4`, set by ECS in every container.
        api_key_set: whether `STRATOFLOW_API_KEY` is set.
        api_key_secret: `STRATOFLOW_API_KEY_SECRET`, a Secret Manager version name.
        secret_manager_url: `STRATOFLOW_SECRET_MANAGER_URL`, the Secret Manager API base URL.
    """

    infrastructure_id: str | None = None
    launched: bool = False
    ecs_metadata_uri: str | None = None
    api_key_set: bool = False
    api_key_secret: str | None = None
    secret_manager_url: str = SECRET_MANAGER_URL

    @property
    def needs_api_key_from_secret(self) -> bool:
        """Whether the key must be read from `api_key_secret`."""
        return not self.api_key_set and bool(self.api_key_secret)


def load_launch_settings(environ: Mapping[str, str] | None = None) -> LaunchSettings:
    """The launch settings from `environ` (default `os.environ`)."""
    env = os.environ if environ is None else environ
    return LaunchSettings(
        infrastructure_id=env.get("STRATOFLOW_INFRASTRUCTURE_ID") or None,
        launched=bool(env.get("STRATOFLOW_FLOW_RUN_ID")),
        ecs_metadata_uri=env.get("ECS_CONTAINER_METADATA_URI_V4") or None,
        api_key_set=bool(env.get("STRATOFLOW_API_KEY")),
        api_key_secret=env.get("STRATOFLOW_API_KEY_SECRET") or None,
        secret_manager_url=(env.get("STRATOFLOW_SECRET_MANAGER_URL") or SECRET_MANAGER_URL).rstrip(
            "/"
        ),
    )


def infrastructure_id(
    settings: LaunchSettings, *, http: httpx.Client | None = None, pid: int | None = None
) -> str | None:
    """The id heartbeats report: the launcher's, else the ECS task ARN, else `pid:<pid>`
    for a process started by hand and None for a launched one (its launcher's id stays)."""
    if settings.infrastructure_id:
        return settings.infrastructure_id
    if settings.ecs_metadata_uri:
        arn = ecs_task_arn(settings.ecs_metadata_uri, http=http)
        if arn:
            return arn
    if settings.launched:
        return None
    return f"pid:{os.getpid() if pid is None else pid}"


def ecs_task_arn(metadata_uri: str, *, http: httpx.Client | None = None) -> str | None:
    """The task ARN from the ECS task metadata endpoint v4, or None if it cannot be read."""
    try:
        with _client(http) as client:
            answer = client.get(
                f"{metadata_uri.rstrip('/')}/task", timeout=METADATA_TIMEOUT_SECONDS
            )
            answer.raise_for_status()
            arn = answer.json()["TaskARN"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None  # an id is a nicety: never a reason not to run the flow
    return arn if isinstance(arn, str) and arn else None


def fetch_api_key(
    name: str,
    *,
    base_url: str = SECRET_MANAGER_URL,
    token_source: TokenSource | None = None,
    http: httpx.Client | None = None,
) -> str:
    """The API key held by the Secret Manager secret version `name`.

    Raises:
        ApiKeySecretError: `name` is not a version name, google-auth is missing or has no
            credentials, or Secret Manager refuses or answers something unreadable.
    """
    if not SECRET_VERSION.fullmatch(name):
        raise ApiKeySecretError(
            f"STRATOFLOW_API_KEY_SECRET {name!r} is not a Secret Manager version name "
            "(projects/PROJECT/secrets/SECRET/versions/VERSION)"
        )
    token = (token_source or google_access_token)()
    url = f"{base_url.rstrip('/')}/v1/{name}:access"
    try:
        with _client(http) as client:
            answer = client.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0)
    except httpx.HTTPError as exc:
        raise ApiKeySecretError(f"reading secret {name}: {exc}") from exc
    if answer.status_code != 200:
        raise ApiKeySecretError(f"reading secret {name}: {_google_error(answer)}")
    return _payload_text(name, answer)


def _payload_text(name: str, answer: httpx.Response) -> str:
    try:
        data = answer.json()["payload"]["data"]
        key = base64.b64decode(data, validate=True).decode("utf-8").strip()
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ApiKeySecretError(f"reading secret {name}: no readable payload") from exc
    if not key:
        raise ApiKeySecretError(f"reading secret {name}: the secret is empty")
    return key


def _google_error(answer: httpx.Response) -> str:
    try:
        error: Any = answer.json()["error"]
        return f"{answer.status_code} {error.get('status', '')}: {error.get('message', '')}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"{answer.status_code} {answer.reason_phrase}"


def google_access_token() -> str:
    """An access token from google-auth's application default credentials.

    Raises:
        ApiKeySecretError: google-auth is not installed, or finds no usable credentials.
    """
    try:
        import google.auth
        import google.auth.exceptions
        from google.auth.transport.requests import Request
    except ImportError as exc:
        raise ApiKeySecretError(
            "STRATOFLOW_API_KEY_SECRET needs google-auth to read Secret Manager: "
            "pip install 'stratoflow[gcp]'"
        ) from exc
    try:
        credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
        credentials.refresh(Request())  # type: ignore[no-untyped-call]
    except google.auth.exceptions.GoogleAuthError as exc:
        raise ApiKeySecretError(f"no Google credentials to read the API key with: {exc}") from exc
    return str(credentials.token)


def _client(http: httpx.Client | None) -> AbstractContextManager[httpx.Client]:
    # A given client stays open for its owner; one made here is closed after the call.
    return nullcontext(http) if http is not None else httpx.Client()
