"""Fixtures of the SDK tests: the offline orchestrator for engine tests, the real API over real
HTTP (moto's server behind the local HTTP adapter) for client and CLI tests, and a clean home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.runtime import LocalOrchestrator, RuntimeConfig, use_runtime
from stratoflow.runtime.results import LocalResultStore
from tests.fixtures.live_api import LiveApi, serve_live_api
from tests.sdk.support import FAST_WAITS, CountingTransport


@pytest.fixture(autouse=True)
def stratoflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own home folder and no API from the environment."""
    home = tmp_path / "home"
    monkeypatch.setenv("STRATOFLOW_HOME", str(home))
    monkeypatch.delenv("STRATOFLOW_API_URL", raising=False)
    monkeypatch.delenv("STRATOFLOW_API_KEY", raising=False)
    return home


@pytest.fixture
def local() -> LocalOrchestrator:
    """The offline orchestrator engine tests record into (WAIT answers paced for tests)."""
    return LocalOrchestrator(wait_scale=FAST_WAITS)


@pytest.fixture
def runtime(local: LocalOrchestrator, tmp_path: Path) -> Iterator[RuntimeConfig]:
    """Flows called in the test run offline against `local` (fast flush intervals)."""
    with use_runtime(_runtime(local, tmp_path)) as config:
        yield config


@pytest.fixture(scope="module")
def shared_api() -> Iterator[LiveApi]:
    """One live API for a module's tests (each test uses names and runs of its own)."""
    with serve_live_api() as api:
        yield api


@pytest.fixture
def http() -> Iterator[CountingTransport]:
    """Real HTTP to the API, counting requests by route (and failing some on request)."""
    with CountingTransport() as transport:
        yield transport


@pytest.fixture
def client(shared_api: LiveApi, http: CountingTransport) -> Iterator[StratoflowClient]:
    """A real client talking to the real API over HTTP."""
    settings = ClientSettings(api_url=shared_api.url, api_key=shared_api.key, max_retries=3)
    with StratoflowClient(settings, transport=http, sleep=lambda _: None) as client:
        yield client


@pytest.fixture
def api_runtime(client: StratoflowClient, tmp_path: Path) -> Iterator[RuntimeConfig]:
    """Flows called in the test are recorded by the real API (fast flush intervals)."""
    with use_runtime(_runtime(client, tmp_path)) as config:
        yield config


def _runtime(orchestrator: LocalOrchestrator | StratoflowClient, tmp_path: Path) -> RuntimeConfig:
    return RuntimeConfig(
        orchestrator=orchestrator, results=LocalResultStore(tmp_path / "results"),
        batch_seconds=0.05, log_seconds=0.05, console=False,
    )  # fmt: skip
