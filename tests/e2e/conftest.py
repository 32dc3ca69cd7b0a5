"""Fixtures of the end-to-end tests that start `stratoflow server start` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.local_stack import ServerProcess, stop_quietly


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A `STRATOFLOW_HOME` that does not exist yet (the stack makes it)."""
    return tmp_path / "home"


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Server processes a test starts; each is stopped at the end, whatever happened."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        stop_quietly(server)
