"""Fixtures for the infrastructure tests: the standalone stack synthesized once per session."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# Test modules here import the synthesis helpers; conftest loads before pytest puts this
# folder on sys.path for them.
sys.path.insert(0, str(Path(__file__).parent))

from infra_synth import Synthesized, synthesize


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default stack (new public VPC with the ECS launcher), synthesized once."""
    return synthesize(tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Any:
    """The default stack's `Template`."""
    return synthesized.template
