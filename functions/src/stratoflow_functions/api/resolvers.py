"""Resolvers that keep each request to itself, and a pool that gives each request its own.

powertools keeps the request being served on shared objects: `resolve()` assigns the event to
the `BaseRouter` class (one slot for the whole process), and the matched route, its arguments
and the parsed body live in the resolver's `context` dict. On Lambda one execution environment
serves one request at a time, so that is safe; the local stack serves many threads at once, and
there one request's route (and so its status code) leaked into another's answer.

`RequestScopedResolver` keeps the event on the instance instead of the class, and
`ResolverPool` lends each request a resolver no other request is using (built on demand, kept
for reuse), so nothing per request is shared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver


class RequestScopedResolver(APIGatewayHttpResolver):
    """An HTTP API resolver whose current event and context belong to this instance only.

    Routers included in it read the event through `api_resolver`, so they see this instance's.
    """

    _event: Any = None
    _lambda_context: Any = None

    @property
    def current_event(self) -> Any:
        """The event this resolver is serving (never another resolver's)."""
        return self._event

    @current_event.setter
    def current_event(self, value: Any) -> None:
        self._event = value

    @property
    def lambda_context(self) -> Any:
        """The Lambda context of the request this resolver is serving."""
        return self._lambda_context

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._lambda_context = value

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Serve one event; the class-level copy powertools also sets is never read."""
        self._event = self._to_proxy_event(dict(event))
        self._lambda_context = context
        try:
            return super().resolve(dict(event), context)
        finally:
            self._event = self._lambda_context = None


class ResolverPool:
    """Resolvers lent one request at a time: at most as many exist as requests ever overlapped."""

    def __init__(self, build: Callable[[], RequestScopedResolver]) -> None:
        self._build = build
        self._idle: list[RequestScopedResolver] = [build()]
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Idle resolvers (all of them, when no request is in flight)."""
        with self._lock:
            return len(self._idle)

    @contextmanager
    def lease(self) -> Iterator[RequestScopedResolver]:
        """A resolver that no other request holds until this one gives it back."""
        with self._lock:
            resolver = self._idle.pop() if self._idle else None
        if resolver is None:
            resolver = self._build()
        try:
            yield resolver
        finally:
            with self._lock:
                self._idle.append(resolver)
