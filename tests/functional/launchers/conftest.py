"""Fixtures of the launcher tests: moto executing state machines, with the emulator fixes."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from tests.functional.launchers.standin_infrastructure import install

install()  # before any test module imports the launchers

from stratoflow.schemas import (  # noqa: E402
    ApiKeyCreate,
    ApiKeyScope,
    utcnow,
)
from stratoflow_functions.config import Settings  # noqa: E402
from stratoflow_functions.local.emulator_fixes import install_emulator_fixes  # noqa: E402
from stratoflow_functions.services.api_keys import create_api_key  # noqa: E402
from stratoflow_functions.store import build_store, create_table  # noqa: E402
from tests.functional.launchers.launcher_support import (  # noqa: E402
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
