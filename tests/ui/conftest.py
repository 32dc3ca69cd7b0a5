"""Fixtures of the browser tests: Debian's chromium, and a live local stack
(`stratoflow server start`, as the e2e tests start it) with a real flow run in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import debian
from tests.e2e.local_stack import ServerProcess, stack_env, start_server, stop_quietly

BROWSERS = ("chromium", "chromium-browser")
PAGE_WAIT_MS = 30_000
"""How long an expectation on a page polls before it fails: Playwright's 5 s default was
too short for a page's first data call on a loaded 2-core machine (seen at load 9)."""
expect.set_options(timeout=PAGE_WAIT_MS)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "ui-screenshots"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser: Debian's `chromium`, installed here as root if it is missing (browsers
    cannot be downloaded by Playwright on this network)."""
    if (reason := debian.install("chromium", *BROWSERS)) is not None:
        pytest.skip(f"no chromium for the browser tests: {reason}")
    found = debian.find_binary(*BROWSERS)
    assert found is not None
    return found


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One local stack for all of tests/ui (each test keeps to its own flows and runs, and
    asserts only about them)."""
    home = tmp_path_factory.mktemp("ui") / "home"
    server = start_server(home, "ui", env=stack_env(home))
    try:
        yield server.wait_ready(timeout=90)
    finally:
        stop_quietly(server)


@pytest.fixture
def screenshots() -> Path:
    """Where screenshots go (kept as build artifacts)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
