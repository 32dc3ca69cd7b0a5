"""An API over moto DynamoDB, called with real payload v2 events, with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from stratoflow.schemas import ApiKeyCreate, ApiKeyScope
from stratoflow_functions.api import ApiApp, ApiDeps
from stratoflow_functions.config import Settings
from stratoflow_functions.services.api_keys import create_api_key
from stratoflow_functions.store import Store, build_store, create_table
from tests.fixtures.live_api import LiveApi
from tests.support import ApiCaller, FakeClock


@pytest.fixture
def settings() -> Settings:
    return Settings(table_name="stratoflow-api-test", max_body_bytes=256 * 1024)


@pytest.fixture
def store(aws: None, settings: Settings, clock: FakeClock) -> Store:
    create_table(settings)
    return build_store(settings, clock=clock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(store: Store, settings: Settings, clock: FakeClock) -> ApiApp:
    return ApiApp(ApiDeps(store=store, settings=settings, clock=clock))


@pytest.fixture
def admin_key(store: Store, clock: FakeClock) -> str:
    return create_api_key(store, ApiKeyCreate(name="admin", scope=ApiKeyScope.ADMIN), clock()).key


@pytest.fixture
def api(app: ApiApp, admin_key: str) -> ApiCaller:
    return ApiCaller(app, admin_key)


@pytest.fixture
def flow_id(api: ApiCaller) -> str:
    return str(api.post("/flows", {"name": "etl"}).body["id"])


@pytest.fixture
def deployment_id(api: ApiCaller, flow_id: str) -> str:
    body = {"flow_id": flow_id, "name": "nightly", "entrypoint": "flows/etl.py:etl"}
    return str(api.post("/deployments", body).body["id"])


@pytest.fixture
def http(live_api: LiveApi) -> Iterator[httpx.Client]:
    """A real HTTP client of the live API, with its admin key (a test module may define its own)."""
    headers = {"Authorization": f"Bearer {live_api.key}"}
    with httpx.Client(base_url=live_api.url, headers=headers, timeout=30) as client:
        yield client
