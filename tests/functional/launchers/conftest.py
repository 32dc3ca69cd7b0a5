"""Fixtures of the launcher tests: moto executing state machines, with the emulator fixes."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from stratoflow.schemas import (
    ApiKeyCreate,
    ApiKeyScope,
    utcnow,
)
from stratoflow_functions.config import Settings
from stratoflow_functions.local.emulator_fixes import install_emulator_fixes
from stratoflow_functions.services.api_keys import create_api_key
from stratoflow_functions.store import build_store, create_table
from tests.functional.launchers.launcher_support import (
    REGION,
    World,
    api_for,
    network_settings,
)


@pytest.fixture
def sfn_aws() -> Iterator[None]:
    """moto with Step Functions running executions; every execution still running is stopped
    before the mock ends, so no thread outlives it."""
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        install_emulator_fixes()
        yield
        sfn = boto3.client("stepfunctions", region_name=REGION)
        for machine in sfn.list_state_machines()["stateMachines"]:
            arn = machine["stateMachineArn"]
            for execution in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")[
                "executions"
            ]:
                sfn.stop_execution(executionArn=execution["executionArn"])


@pytest.fixture
def world(sfn_aws: None) -> World:
    base = Settings(
        table_name="stratoflow-launchers",
        region=REGION,
        launch_api_url="https://api.example.test",
        launch_api_key_secret="arn:aws:secretsmanager:us-east-1:123456789012:secret:key",
    )
    settings = network_settings(base)
    create_table(settings)
    store = build_store(settings)
    key = create_api_key(store, ApiKeyCreate(name="admin", scope=ApiKeyScope.ADMIN), utcnow()).key
    return World(settings, store, api_for(store, settings, key))
