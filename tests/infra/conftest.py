"""Fixtures for the infrastructure tests: the standalone stack synthesized once per session."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# Test modules here import the synthesis helpers; conftest loads before pytest puts this
# folder on sys.path for them.
sys.path.insert(0, str(Path(__file__).parent))

from infra_synth import ALL_LAUNCHERS, Synthesized, synthesize


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack with every launcher on (ECS in a new public VPC), synthesized once."""
    return synthesize(tmp_path_factory.mktemp("cdk-all-launchers"), **ALL_LAUNCHERS)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Any:
    """That stack's `Template`."""
    return synthesized.template
