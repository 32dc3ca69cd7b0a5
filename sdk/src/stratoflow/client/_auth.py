"""Request authentication: API keys (`Authorization: Bearer sf_...`) and AWS SigV4.

SigV4 needs botocore, which only the `[aws]` extra installs; it is imported when a SigV4 auth is
built, never at import time, so the SDK stays small. A request is signed for the region in the
API's `execute-api` host name when it has one (a signature for any other region is refused),
else for `settings.region` (`AWS_REGION`), else for the region botocore resolves
(`AWS_DEFAULT_REGION`, the profile in `~/.aws/config`).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any
from urllib.parse import urlsplit

import httpx

from stratoflow.client.errors import StratoflowClientError
from stratoflow.client.settings import ClientSettings

SIGV4_SERVICE = "execute-api"
AWS_EXTRA = "pip install 'stratoflow[aws]'"
EXECUTE_API_HOST = re.compile(
    r"^[A-Za-z0-9-]+\.execute-api\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)"
    r"\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$"
)
"""`{api-id}.execute-api.{region}.amazonaws.com`, and its VPC-endpoint and China forms."""


class AuthSetupError(StratoflowClientError, ValueError):
    """Requests cannot be authenticated as the settings ask: the `[aws]` extra is missing, or
    SigV4 finds no credentials or region, or `api-key` auth has no key."""


class BearerAuth(httpx.Auth):
    """Send an API key as a bearer token."""

    def __init__(self, api_key: str) -> None:
        self._header = f"Bearer {api_key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the Authorization header."""
        request.headers["Authorization"] = self._header
        yield request


class SigV4Auth(httpx.Auth):
    """Sign each request with the caller's AWS credentials for API Gateway (`execute-api`)."""

    requires_request_body = True

    def __init__(self, region: str, credentials: Any = None) -> None:
        """Sign for `region` with `credentials` (botocore's default chain when None).

        Raises:
            AuthSetupError: botocore is not installed, or no credentials are found.
        """
        self._region = region
        found = credentials or botocore_session().get_credentials()
        if found is None:
            raise AuthSetupError("SigV4 auth: no AWS credentials found")
        self._credentials: Any = found

    @property
    def region(self) -> str:
        """The region requests are signed for."""
        return self._region

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the SigV4 headers (Authorization, X-Amz-Date, X-Amz-Security-Token)."""
        from botocore.auth import SigV4Auth as BotoSigV4
        from botocore.awsrequest import AWSRequest

        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        aws_request = AWSRequest(
            method=request.method, url=str(request.url), data=request.content, headers=headers
        )
        frozen = self._credentials.get_frozen_credentials()
        BotoSigV4(frozen, SIGV4_SERVICE, self._region).add_auth(aws_request)
        for name, value in aws_request.headers.items():
            request.headers[name] = value
        yield request


def botocore_session() -> Any:
    """A default botocore session (credentials and region from the usual chain).

    Raises:
        AuthSetupError: botocore is not installed (the `[aws]` extra).
    """
    try:
        from botocore.session import Session
    except ImportError as exc:
        raise AuthSetupError(
            f"SigV4 signing needs botocore, which the [aws] extra installs: {AWS_EXTRA}"
        ) from exc
    return Session()


def execute_api_region(url: str | None) -> str | None:
    """The region in an API Gateway `execute-api` URL; None for any other URL."""
    found = EXECUTE_API_HOST.match(urlsplit(url or "").hostname or "")
    return found["region"] if found else None


def signing_region(settings: ClientSettings, session: Any) -> str:
    """The region to sign for: the URL's, else `settings.region`, else botocore's.

    Raises:
        AuthSetupError: none of them names a region.
    """
    region = execute_api_region(settings.api_url) or settings.region
    region = region or session.get_config_variable("region")
    if not region:
        raise AuthSetupError(
            f"SigV4 auth: no AWS region for {settings.api_url}: "
            "set AWS_REGION or AWS_DEFAULT_REGION, or a region in ~/.aws/config"
        )
    return str(region)


def _looks_like_aws(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def _mode(settings: ClientSettings) -> str:
    if settings.auth != "auto":
        return settings.auth
    if settings.api_key:
        return "api-key"
    if settings.api_url and _looks_like_aws(settings.api_url):
        return "sigv4"
    return "none"


def build_auth(settings: ClientSettings, session: Any = None) -> httpx.Auth | None:
    """Choose the request auth that `settings` asks for.

    `auto` uses the API key when one is set, else SigV4 for `*.amazonaws.com` URLs, else none.

    Args:
        settings: the client settings.
        session: the botocore session SigV4 takes credentials and a region from (the default
            session when None).

    Raises:
        AuthSetupError: the chosen auth cannot be set up (a missing extra, key, credentials
            or region); the message says what to do.
    """
    mode = _mode(settings)
    if mode == "api-key":
        if not settings.api_key:
            raise AuthSetupError("auth 'api-key' needs STRATOFLOW_API_KEY or api_key")
        return BearerAuth(settings.api_key)
    if mode == "sigv4":
        return _sigv4(settings, session if session is not None else botocore_session())
    return None


def _sigv4(settings: ClientSettings, session: Any) -> SigV4Auth:
    region = signing_region(settings, session)
    credentials = session.get_credentials()
    if credentials is None:
        raise AuthSetupError(
            f"SigV4 auth: no AWS credentials found to sign requests to {settings.api_url}"
        )
    return SigV4Auth(region, credentials)
