"""Task-run cache entries: the COMPLETED state of a cached task, by cache key, until it expires."""

from __future__ import annotations

from datetime import datetime

from stratoflow.schemas import State, StateType
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors
from stratoflow_functions.store.keys import cache_pk, epoch

CACHE_SK = "CACHE"


class CacheRepository:
    """Cached task results by cache key."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx
        self._entries = ctx.models.cache_entry

    def put(self, cache_key: str, state: State) -> None:
        """Store (or replace) the cached state; it expires at `state.cache_expiration`, if set.

        Raises:
            ValueError: `state` is not a COMPLETED state with a result.
        """
        if state.type != StateType.COMPLETED or state.result is None:
            raise ValueError("only a COMPLETED state with a result can be cached")
        expires = state.cache_expiration
        item = self._entries(
            cache_pk(cache_key),
            CACHE_SK,
            data=state.model_dump_json(),
            expires_at=None if expires is None else epoch(expires),
        )
        with dynamo_errors():
            item.save()

    def get(self, cache_key: str, now: datetime) -> State | None:
        """The cached state, or None if absent or expired at `now`."""
        found = self._ctx.find(cache_pk(cache_key), CACHE_SK, self._entries)
        if found is None:
            return None
        state = State.model_validate_json(found.data or "{}")
        if state.cache_expiration is not None and state.cache_expiration <= now:
            return None
        return state
