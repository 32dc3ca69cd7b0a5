"""The Stratoflow API client (httpx, sync and async) and its settings and errors.

`get_client()` builds a client from the profile file, the environment and explicit arguments
(in that order of precedence, lowest first). Pass `transport=` to talk to something other than
the network: `httpx.MockTransport` in tests, an in-process transport in the local stack.
"""

from __future__ import annotations

import httpx

from stratoflow.client._async import AsyncStratoflowClient
from stratoflow.client._auth import AuthSetupError
from stratoflow.client._sync import StratoflowClient
from stratoflow.client.errors import (
    ApiError,
    BadRequestError,
    ConflictError,
    ConnectError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    RequestTimeoutError,
    ServerError,
    StratoflowClientError,
    ThrottledError,
    UnauthorizedError,
    UnprocessableError,
)
from stratoflow.client.settings import ClientSettings, load_client_settings


def get_client(
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    settings: ClientSettings | None = None,
    transport: httpx.BaseTransport | None = None,
) -> StratoflowClient:
    """A sync client configured from profile < environment < these arguments.

    Raises:
        ValueError: no API URL is configured anywhere.
    """
    resolved = settings or load_client_settings(api_url=api_url, api_key=api_key)
    return StratoflowClient(resolved, transport=transport)


def get_async_client(
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    settings: ClientSettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncStratoflowClient:
    """An async client configured like `get_client`."""
    resolved = settings or load_client_settings(api_url=api_url, api_key=api_key)
    return AsyncStratoflowClient(resolved, transport=transport)


__all__ = [
    "ApiError",
    "AsyncStratoflowClient",
    "AuthSetupError",
    "BadRequestError",
    "ClientSettings",
    "ConflictError",
    "ConnectError",
    "ForbiddenError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RequestTimeoutError",
    "ServerError",
    "StratoflowClient",
    "StratoflowClientError",
    "ThrottledError",
    "UnauthorizedError",
    "UnprocessableError",
    "get_async_client",
    "get_client",
    "load_client_settings",
]
