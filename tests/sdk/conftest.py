"""Fixtures of the SDK tests: a fake API, a client and a runtime pointed at it, a clean home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.runtime import RuntimeConfig, use_runtime
from stratoflow.runtime.results import LocalResultStore
from tests.sdk.fake_api import API_KEY, FakeApi


@pytest.fixture(autouse=True)
def stratoflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own home folder and no API from the environment."""
    home = tmp_path / "home"
    monkeypatch.setenv("STRATOFLOW_HOME", str(home))
    monkeypatch.delenv("STRATOFLOW_API_URL", raising=False)
    monkeypatch.delenv("STRATOFLOW_API_KEY", raising=False)
    return home


@pytest.fixture
def api() -> FakeApi:
    """The fake HTTP API."""
    return FakeApi()


@pytest.fixture
def client(api: FakeApi) -> Iterator[StratoflowClient]:
    """A real client talking to the fake API through `httpx.MockTransport`."""
    settings = ClientSettings(api_url="http://stratoflow.test", api_key=API_KEY, max_retries=3)
    with StratoflowClient(settings, transport=api.transport(), sleep=lambda _: None) as client:
        yield client


@pytest.fixture
def runtime(client: StratoflowClient, tmp_path: Path) -> Iterator[RuntimeConfig]:
    """Flows called in the test run against the fake API (fast flush intervals)."""
    config = RuntimeConfig(
        orchestrator=client, results=LocalResultStore(tmp_path / "results"),
        batch_seconds=0.05, log_seconds=0.05, console=False,
    )  # fmt: skip
    with use_runtime(config):
        yield config
