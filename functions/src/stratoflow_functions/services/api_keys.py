"""API keys: created with a secret shown once, stored only as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from stratoflow.schemas import API_KEY_PREFIX, ApiKey, ApiKeyCreate, ApiKeyCreated
from stratoflow_functions.errors import UnauthorizedError
from stratoflow_functions.store import Store

KEY_BYTES = 32
PREFIX_CHARS = 10


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(store: Store, data: ApiKeyCreate, now: datetime) -> ApiKeyCreated:
    """Create a key; the answer is the only place its secret ever appears."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    record = store.api_keys.create(data.name, data.scope, hash_key(key), key[:PREFIX_CHARS], now)
    return ApiKeyCreated(**record.model_dump(), key=key)


def authenticate_key(store: Store, key: str) -> ApiKey:
    """The live key record behind `key`, or 401."""
    if not key.startswith(API_KEY_PREFIX):
        raise UnauthorizedError("API keys start with 'sf_'", code="invalid_api_key")
    record = store.api_keys.get_by_hash(hash_key(key))
    if record is None or record.revoked:
        raise UnauthorizedError("unknown or revoked API key", code="invalid_api_key")
    return record
