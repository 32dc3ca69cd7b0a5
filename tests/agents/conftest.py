"""Fixtures of the agent tests that run real processes against the live API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stratoflow.client import StratoflowClient, load_client_settings
from tests.fixtures.live_api import LiveApi


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A `STRATOFLOW_HOME` of the test's own."""
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def client(live_api: LiveApi, home: Path) -> Iterator[StratoflowClient]:
    """A client of the live API with its admin key."""
    settings = load_client_settings(
        {"STRATOFLOW_HOME": str(home)}, api_url=live_api.url, api_key=live_api.key
    )
    with StratoflowClient(settings) as api:
        yield api
