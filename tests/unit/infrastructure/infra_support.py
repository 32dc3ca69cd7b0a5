"""Shared inputs of the builder tests: a fixed run and deployment, a key that must never leak,
and the snapshot check (`UPDATE_SNAPSHOTS=1` rewrites the committed JSON)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from stratoflow.schemas import (
    CodeBundle,
    CodeImage,
    Deployment,
    FlowRun,
    InfrastructureType,
    State,
    StateType,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
NOW = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)
RUN_ID = UUID("0b8e3c1e-6a55-4c1a-9d3e-2f8a1f0c7b11")
DEPLOYMENT_ID = UUID("5f0c2d4e-1b3a-4e6f-8a9b-0c1d2e3f4a5b")
FLOW_ID = UUID("9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d")
API_URL = "https://api.stratoflow.example"
SECRET_KEY_VALUE = "sf_THIS-KEY-MUST-NEVER-APPEAR-IN-A-SPEC"
"""What a leaked key would look like; it is in the process environment while specs are built."""
KEY_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stratoflow/api-key-AbCdEf"


def flow_run(*, deployment: bool = True) -> FlowRun:
    """A scheduled run of the test deployment."""
    return FlowRun(
        id=RUN_ID,
        name="crimson-otter",
        flow_id=FLOW_ID,
        deployment_id=DEPLOYMENT_ID if deployment else None,
        state=State(type=StateType.SCHEDULED, timestamp=NOW),
        infrastructure=InfrastructureType.ECS,
        created=NOW,
        updated=NOW,
    )


def deployment(code: CodeBundle | CodeImage | None = None) -> Deployment:
    """The test deployment with `code`."""
    return Deployment(
        id=DEPLOYMENT_ID,
        flow_id=FLOW_ID,
        flow_name="etl",
        name="nightly",
        entrypoint="flows/etl.py:etl",
        code=code,
        infrastructure=InfrastructureType.ECS,
        created=NOW,
        updated=NOW,
    )


def assert_snapshot(name: str, value: Any) -> None:
    """`value` equals the committed `snapshots/<name>.json`."""
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 once, commit it"
    assert value == json.loads(path.read_text())
