"""Dispatch and cancel over moto: DynamoDB, Step Functions (trivial Pass machines standing in
for the launchers: nothing here executes them) and ECS, with a fake clock for the store."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from stratoflow.schemas import ApiKeyCreate, ApiKeyScope
from stratoflow_functions.api import ApiApp, ApiDeps
from stratoflow_functions.config import Settings
from stratoflow_functions.launchers.cancel import PushCanceller
from stratoflow_functions.launchers.dispatcher import StepFunctionsDispatcher
from stratoflow_functions.services.api_keys import create_api_key
from stratoflow_functions.store import Store, build_store, create_table
from tests.functional.dispatch.launch_support import PASS_MACHINE, ROLE_ARN
from tests.support import ApiCaller, FakeClock


@pytest.fixture
def sfn(aws: None) -> Any:
    return boto3.client("stepfunctions", region_name="us-east-1")


@pytest.fixture
def ecs(aws: None) -> Any:
    return boto3.client("ecs", region_name="us-east-1")


@pytest.fixture
def launchers(sfn: Any) -> dict[str, str]:
    """A Pass state machine per pushed infrastructure (ECS and Lambda; none for Kubernetes)."""
    return {
        infra: sfn.create_state_machine(
            name=f"stratoflow-{infra}-launcher", definition=PASS_MACHINE, roleArn=ROLE_ARN
        )["stateMachineArn"]
        for infra in ("ecs", "lambda")
    }


@pytest.fixture
def settings(launchers: dict[str, str]) -> Settings:
    return Settings(
        table_name="stratoflow-launch-test",
        ecs_launcher_arn=launchers["ecs"],
        lambda_launcher_arn=launchers["lambda"],
        launcher_poll_seconds=7,
        dispatch_per_tick=5,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(aws: None, settings: Settings, clock: FakeClock) -> Store:
    create_table(settings)
    return build_store(settings, clock=clock)


@pytest.fixture
def dispatcher(store: Store, settings: Settings, sfn: Any) -> StepFunctionsDispatcher:
    return StepFunctionsDispatcher(store, settings, sfn)


@pytest.fixture
def canceller(settings: Settings, sfn: Any, ecs: Any) -> PushCanceller:
    return PushCanceller(settings, sfn, ecs)


@pytest.fixture
def app(
    store: Store,
    settings: Settings,
    clock: FakeClock,
    dispatcher: StepFunctionsDispatcher,
    canceller: PushCanceller,
) -> ApiApp:
    deps = ApiDeps(store, settings, clock, run_dispatcher=dispatcher, run_stopper=canceller)
    return ApiApp(deps)


@pytest.fixture
def api(app: ApiApp, store: Store, clock: FakeClock) -> ApiCaller:
    key = create_api_key(store, ApiKeyCreate(name="admin", scope=ApiKeyScope.ADMIN), clock())
    return ApiCaller(app, key.key)
