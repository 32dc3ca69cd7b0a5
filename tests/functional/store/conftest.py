"""Fixtures for the store's functional tests: a moto table, a store on it, a settable clock."""

from __future__ import annotations

import pytest

from stratoflow_functions.config import Settings
from stratoflow_functions.store import Store, build_store, create_table
from tests.functional.store.store_support import FakeClock


@pytest.fixture
def settings() -> Settings:
    return Settings(table_name="stratoflow-test", region="us-east-1")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(aws: None, settings: Settings, clock: FakeClock) -> Store:
    create_table(settings)
    return build_store(settings, clock=clock)
