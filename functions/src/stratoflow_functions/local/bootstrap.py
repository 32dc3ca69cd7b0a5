"""First-start set-up of the local stack, safe to repeat on every start: the table (with its
GSIs, TTL and stream) and the buckets are created if missing, and the profile gets the API URL
and an admin API key, reusing the key it already holds while that key is still valid.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from stratoflow.client.profile import read_profile, write_profile
from stratoflow.schemas import ApiKeyCreate, ApiKeyScope
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import UnauthorizedError
from stratoflow_functions.local.snapshot import create_bucket
from stratoflow_functions.services.api_keys import authenticate_key, create_api_key
from stratoflow_functions.store import Store, create_table

ADMIN_KEY_NAME = "local-admin"


def ensure_table(settings: Settings, dynamodb: Any) -> bool:
    """Create the table unless it exists; True when it was created."""
    if settings.table_name in dynamodb.list_tables()["TableNames"]:
        return False
    create_table(settings, dynamodb)
    return True


def ensure_buckets(settings: Settings, s3: Any) -> list[str]:
    """Create the code and results buckets unless they exist; the names created."""
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    wanted = dict.fromkeys((settings.code_bucket, settings.results_bucket))
    created = [name for name in wanted if name not in existing]
    for name in created:
        create_bucket(s3, name)
    return created


def valid_admin_key(store: Store, key: str | None) -> bool:
    """Whether `key` is a live admin key of this store."""
    if not key:
        return False
    try:
        record = authenticate_key(store, key)
    except UnauthorizedError:
        return False
    return record.scope is ApiKeyScope.ADMIN


def ensure_profile(store: Store, profile: Path, api_url: str, now: datetime) -> tuple[str, bool]:
    """Write the API URL and an admin key to the profile.

    Args:
        store: The local stack's store.
        profile: The profile file.
        api_url: Where the API answers now.
        now: The current time (the creation time of a new key).

    Returns:
        The admin key, and whether it was created now (False: the profile's key was reused).
    """
    key = read_profile(profile).get("api_key")
    created = not valid_admin_key(store, key)
    if created:
        data = ApiKeyCreate(name=ADMIN_KEY_NAME, scope=ApiKeyScope.ADMIN)
        key = create_api_key(store, data, now).key
    assert key is not None
    write_profile({"api_url": api_url, "api_key": key}, profile)
    return key, created
