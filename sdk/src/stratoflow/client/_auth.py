"""Request authentication: API keys (`Authorization: Bearer sf_...`) and AWS SigV4.

SigV4 needs botocore, which only the `[aws]` extra installs; it is imported when a SigV4 auth is
built, never at import time, so the SDK stays small.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any
from urllib.parse import urlsplit

import httpx

from stratoflow.client.settings import ClientSettings

SIGV4_SERVICE = "execute-api"


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
        try:
            from botocore.session import Session
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("SigV4 auth needs botocore: pip install 'stratoflow[aws]'") from exc
        self._region = region
        found = credentials or Session().get_credentials()
        if found is None:
            raise ValueError("SigV4 auth: no AWS credentials found")
        self._credentials: Any = found

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


def _looks_like_aws(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith(".amazonaws.com")


def build_auth(settings: ClientSettings) -> httpx.Auth | None:
    """Choose the request auth that `settings` asks for.

    `auto` uses the API key when one is set, else SigV4 for `*.amazonaws.com` URLs, else none.
    """
    mode = settings.auth
    if mode == "auto":
        if settings.api_key:
            mode = "api-key"
        elif settings.api_url and _looks_like_aws(settings.api_url):
            mode = "sigv4"
        else:
            mode = "none"
    if mode == "api-key":
        if not settings.api_key:
            raise ValueError("auth 'api-key' needs STRATOFLOW_API_KEY or api_key")
        return BearerAuth(settings.api_key)
    if mode == "sigv4":
        return SigV4Auth(settings.region or "us-east-1")
    return None
