"""API keys, keyed by their hash so authenticating a request is one consistent read.

gsi1 lists keys in creation order; gsi2 finds a key by id, for revoking it. The secret itself
is never stored, only its hash and a short prefix to recognise it by.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from stratoflow.schemas import ApiKey, ApiKeyScope, Page
from stratoflow_functions.errors import ConflictError, NotFoundError
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors
from stratoflow_functions.store.items import ApiKeyItem
from stratoflow_functions.store.keys import (
    API_KEYS_PARTITION,
    api_key_id_partition,
    api_key_pk,
    timed,
)
from stratoflow_functions.store.pages import Query, query_items, readable

API_KEY_SK = "API_KEY"


def _key(item: ApiKeyItem) -> ApiKey:
    return ApiKey.model_validate_json(item.data or "{}")


class ApiKeyRepository:
    """API keys by hash, by id, and listed."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx
        self._keys = ctx.models.api_key

    def create(
        self, name: str, scope: ApiKeyScope, key_hash: str, prefix: str, now: datetime
    ) -> ApiKey:
        """Record a new key by its hash.

        Raises:
            ConflictError: `already_exists` if a key with this hash exists.
        """
        key = ApiKey(id=uuid4(), name=name, scope=scope, prefix=prefix, created=now)
        item = self._keys(
            api_key_pk(key_hash),
            API_KEY_SK,
            id=str(key.id),
            data=key.model_dump_json(),
            gsi1pk=API_KEYS_PARTITION,
            gsi1sk=timed(now, key.id),
            gsi2pk=api_key_id_partition(key.id),
            gsi2sk=API_KEY_SK,
        )
        if not self._ctx.put_if_absent(item):
            raise ConflictError("an API key with this hash exists", code="already_exists")
        return key

    def get_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, or None if there is none or it is revoked."""
        found = self._ctx.find(api_key_pk(key_hash), API_KEY_SK, self._keys)
        if found is None:
            return None
        key = _key(found)
        return None if key.revoked else key

    def revoke(self, key_id: UUID) -> ApiKey:
        """Revoke a key (idempotent).

        Raises:
            NotFoundError: No key with this id.
        """
        item = self._keys
        with dynamo_errors():
            found = next(iter(item.query(api_key_id_partition(key_id), index_name="gsi2")), None)
            if found is None:
                raise NotFoundError("API key not found")
            revoked = _key(found).model_copy(update={"revoked": True})
            found.update(actions=[item.data.set(revoked.model_dump_json())])
        return revoked

    def list(self, limit: int, next_token: str | None) -> Page[ApiKey]:
        """Keys in creation order (revoked ones included).

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        query = Query(API_KEYS_PARTITION, "gsi1")
        items, token = query_items(self._keys, query, self._ctx.clock(), limit, next_token)
        return Page[ApiKey](items=readable(items, _key), next_token=token)
