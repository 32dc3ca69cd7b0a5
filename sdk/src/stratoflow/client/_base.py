"""What the sync and async clients share: the call description, retry policy and parsing.

A `Call` is frozen data built by `stratoflow.client._routes`; the two clients only differ in how
they send it. Keeping decisions here (which failure is retryable, how long to back off, how an
answer becomes a model or an error) means the sync and async paths cannot drift apart.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from stratoflow._version import __version__
from stratoflow.client.errors import (
    ApiError,
    ConnectError,
    RequestTimeoutError,
    StratoflowClientError,
    error_from_response,
)
from stratoflow.schemas import Page

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

USER_AGENT = f"stratoflow-sdk/{__version__}"
RETRY_STATUSES_ALWAYS = frozenset({429})
"""Answered before any work was done: safe to retry whatever the route."""
RETRY_STATUSES_IDEMPOTENT = frozenset({500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 10.0


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: method, path, body, and how to read a successful answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)
    idempotent: bool = True
    """Whether repeating the call can do no harm (GET, PUT, DELETE, client-keyed creates)."""


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    """A parser that validates the answer's JSON as `cls`."""
    return lambda response: cls.model_validate_json(response.content)


def adapter(kind: Any) -> Callable[[httpx.Response], Any]:
    """A parser for a non-model type (`list[Flow]`, `dict[str, Any]`)."""
    type_adapter: TypeAdapter[Any] = TypeAdapter(kind)
    return lambda response: type_adapter.validate_json(response.content)


def page(cls: type[M]) -> Callable[[httpx.Response], Page[M]]:
    """A parser for a list answer: a `Page` body, or a bare JSON list read as one page."""
    page_adapter: TypeAdapter[Any] = TypeAdapter(Page[cls] | list[cls])  # type: ignore[valid-type, arg-type]

    def parse(response: httpx.Response) -> Page[M]:
        value = page_adapter.validate_json(response.content)
        if isinstance(value, list):
            return Page[cls](items=value)  # type: ignore[valid-type]
        return value  # type: ignore[no-any-return]

    return parse


def no_content(response: httpx.Response) -> None:
    """A parser for answers without a body (204)."""
    del response


def query(**values: object) -> dict[str, str]:
    """Query parameters with None values dropped and everything else as strings."""
    return {key: _as_param(value) for key, value in values.items() if value is not None}


def _as_param(value: object) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def is_retryable_status(call: Call[Any], status: int) -> bool:
    """Whether an error status may be retried for this call."""
    return status in RETRY_STATUSES_ALWAYS or (
        call.idempotent and status in RETRY_STATUSES_IDEMPOTENT
    )


def is_retryable_exception(call: Call[Any], exc: httpx.TransportError) -> bool:
    """Whether a transport failure may be retried: never-sent always, the rest if idempotent."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return never_sent or call.idempotent


def backoff_delay(attempt: int, base: float, response: httpx.Response | None = None) -> float:
    """Seconds to wait before retry `attempt` (1-based): Retry-After, else jittered exponential."""
    if response is not None:
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.replace(".", "", 1).isdigit():
            return min(float(retry_after), MAX_BACKOFF_SECONDS)
    # Full jitter keeps many engines that hit the same throttle from retrying in lockstep.
    return random.uniform(0, min(base * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))  # noqa: S311


def translate_transport_error(exc: httpx.TransportError) -> StratoflowClientError:
    """The client error for a transport failure."""
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return RequestTimeoutError(f"the API did not answer in time: {exc}")
    return ConnectError(f"could not reach the API: {exc}")


def read_answer(call: Call[T], response: httpx.Response) -> T:
    """Parse a successful answer, or raise the `ApiError` for an error status."""
    if response.is_error:
        raise error_from_response(response)
    try:
        return call.parse(response)
    except ValueError as exc:
        raise ApiError(response.status_code, "bad_response", f"unexpected answer: {exc}") from exc


def build_request(client: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
    """The httpx request for a call."""
    return client.build_request(call.method, call.path, json=call.body, params=call.params or None)
