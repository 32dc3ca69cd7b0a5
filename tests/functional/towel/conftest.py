"""The Towel services over moto DynamoDB with a fake clock."""

from __future__ import annotations

import pytest

from stratoflow_functions.config import Settings
from stratoflow_functions.store import Store, build_store, create_table
from tests.functional.towel.towel_support import T0
from tests.support import FakeClock


@pytest.fixture
def settings() -> Settings:
    return Settings(table_name="stratoflow-towel-test")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store(aws: None, settings: Settings, clock: FakeClock) -> Store:
    create_table(settings)
    return build_store(settings, clock=clock)
