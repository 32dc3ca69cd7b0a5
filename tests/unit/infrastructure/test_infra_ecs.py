"""The ECS requests: valid for botocore's ECS service model, one task definition family per
content (never per run), the SPEC section 7 environment in the overrides, and the snapshot."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from stratoflow.infrastructure import (
    EcsSettings,
    InfraSettingsError,
    launch_environment,
    run_task_request,
    settings_for,
    task_definition_request,
)
from stratoflow.schemas import InfrastructureType
from tests.unit.infrastructure.infra_support import (
    API_URL,
    KEY_SECRET_ARN,
    RUN_ID,
    assert_snapshot,
    flow_run,
)

ECS_MODEL = botocore.session.get_session().get_service_model("ecs")
TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task-definition/stratoflow-0123456789abcdef0123:1"
FULL = {
    "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/etl:1.2",
    "launch_type": "FARGATE",
    "cpu": 2048,
    "memory": 8192,
    "cpu_architecture": "ARM64",
    "ephemeral_storage_gib": 50,
    "platform_version": "1.4.0",
    "subnets": ["subnet-0a1b2c3d"],
    "security_groups": ["sg-0a1b2c3d"],
    "assign_public_ip": True,
    "task_role_arn": "arn:aws:iam::123456789012:role/etl-task",
    "execution_role_arn": "arn:aws:iam::123456789012:role/etl-exec",
    "tags": {"team": "data"},
    "env": {"WAREHOUSE": "analytics"},
}


def assert_valid(operation: str, params: dict[str, Any]) -> None:
    """`params` are valid input of `operation` for botocore's ECS model."""
    shape = ECS_MODEL.operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


def _definition(settings: EcsSettings, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "api_key_secret": KEY_SECRET_ARN,
        "log_group": "/stratoflow/runs",
        "region": "eu-west-1",
        "execution_role_arn": "arn:aws:iam::123456789012:role/stack-exec",
        **kw,
    }
    return task_definition_request(settings, "acme/etl:1.2", **args)


def _run_task(settings: EcsSettings, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "cluster": "stratoflow",
        "task_definition_arn": TASK_ARN,
        "run": flow_run(),
        "environment": launch_environment(API_URL, RUN_ID, settings.env),
        "subnets": ["subnet-0stack"],
        "security_groups": ["sg-0stack"],
        "assign_public_ip": False,
        **kw,
    }
    return run_task_request(settings, **args)


@pytest.mark.parametrize("values", [{}, FULL, {"launch_type": "EC2", "cpu": 300, "memory": 700}])
def test_requests_are_valid_for_the_ecs_service_model(values: dict[str, Any]) -> None:
    settings = EcsSettings.model_validate(values)
    assert_valid("RegisterTaskDefinition", _definition(settings))
    assert_valid("RunTask", _run_task(settings))


def test_the_family_is_stable_for_equal_content_and_differs_when_content_differs() -> None:
    base = _definition(EcsSettings())
    assert _definition(EcsSettings())["family"] == base["family"]
    assert _definition(EcsSettings(env={"A": "b"}))["family"] == base["family"]  # env is per run
    changed = [
        _definition(EcsSettings(cpu=2048, memory=4096)),
        _definition(EcsSettings(cpu_architecture="ARM64")),
        _definition(EcsSettings(), api_key_secret=None),
        _definition(EcsSettings(), log_group="/other"),
        task_definition_request(
            EcsSettings(), "acme/etl:1.3", api_key_secret=KEY_SECRET_ARN,
            log_group="/stratoflow/runs", region="eu-west-1",
            execution_role_arn="arn:aws:iam::123456789012:role/stack-exec",
        ),
    ]  # fmt: skip
    families = {request["family"] for request in changed}
    assert len(families) == len(changed)
    assert base["family"] not in families
    assert base["family"].startswith("stratoflow-")
    assert len(base["family"]) == len("stratoflow-") + 20


def test_the_family_does_not_depend_on_the_order_settings_were_given_in() -> None:
    forward = EcsSettings.model_validate({"tags": {"a": "1"}, "cpu": 512, "memory": 1024})
    backward = EcsSettings.model_validate({"memory": 1024, "cpu": 512, "tags": {"a": "1"}})
    assert _definition(forward)["family"] == _definition(backward)["family"]


def test_the_api_key_is_a_secret_reference_in_the_task_definition() -> None:
    (container,) = _definition(EcsSettings())["containerDefinitions"]
    assert container["secrets"] == [{"name": "STRATOFLOW_API_KEY", "valueFrom": KEY_SECRET_ARN}]
    assert "environment" not in container
    (no_key,) = _definition(EcsSettings(), api_key_secret=None)["containerDefinitions"]
    assert "secrets" not in no_key


def test_the_run_task_overrides_carry_the_command_and_the_launch_environment() -> None:
    request = _run_task(EcsSettings(env={"WAREHOUSE": "analytics"}))
    (override,) = request["overrides"]["containerOverrides"]
    assert override["name"] == "flow"
    assert override["command"] == ["stratoflow", "execute", str(RUN_ID)]
    assert override["environment"] == [
        {"name": "STRATOFLOW_API_URL", "value": API_URL},
        {"name": "STRATOFLOW_FLOW_RUN_ID", "value": str(RUN_ID)},
        {"name": "WAREHOUSE", "value": "analytics"},
    ]
    assert (request["overrides"]["cpu"], request["overrides"]["memory"]) == ("1024", "2048")
    assert request["startedBy"] == "stratoflow"
    assert request["clientToken"] == f"{RUN_ID}-r0"  # a retried RunTask starts no second task
    assert {"key": "stratoflow:flow-run-id", "value": str(RUN_ID)} in request["tags"]


def test_the_stack_network_is_the_default_and_settings_override_it() -> None:
    stack = _run_task(EcsSettings())["networkConfiguration"]["awsvpcConfiguration"]
    assert stack == {
        "subnets": ["subnet-0stack"], "securityGroups": ["sg-0stack"], "assignPublicIp": "DISABLED"
    }  # fmt: skip
    own = _run_task(EcsSettings.model_validate(FULL))["networkConfiguration"]
    assert own["awsvpcConfiguration"] == {
        "subnets": ["subnet-0a1b2c3d"],
        "securityGroups": ["sg-0a1b2c3d"],
        "assignPublicIp": "ENABLED",
    }


def test_no_subnet_anywhere_is_an_error_naming_subnets() -> None:
    with pytest.raises(InfraSettingsError, match="subnets: awsvpc needs at least one") as caught:
        _run_task(EcsSettings(), subnets=[])
    assert caught.value.field == "subnets"


def test_a_user_tag_cannot_hide_the_run_tag() -> None:
    settings = EcsSettings(tags={"stratoflow:flow-run-id": "someone-else"})
    tags = {tag["key"]: tag["value"] for tag in _run_task(settings)["tags"]}
    assert tags["stratoflow:flow-run-id"] == str(RUN_ID)


def test_the_settings_roles_win_over_the_stack_roles() -> None:
    request = _definition(EcsSettings.model_validate(FULL))
    assert request["executionRoleArn"] == FULL["execution_role_arn"]
    assert request["taskRoleArn"] == FULL["task_role_arn"]
    assert _definition(EcsSettings())["executionRoleArn"].endswith("role/stack-exec")


def test_ec2_tasks_carry_no_fargate_platform_version() -> None:
    settings = settings_for(
        InfrastructureType.ECS, {"launch_type": "EC2", "platform_version": "1.4.0"}
    )
    assert isinstance(settings, EcsSettings)
    assert "platformVersion" not in _run_task(settings)
    assert _run_task(EcsSettings(platform_version="1.4.0"))["platformVersion"] == "1.4.0"


def test_the_requests_match_their_snapshots() -> None:
    settings = EcsSettings.model_validate(FULL)
    assert_snapshot("ecs_task_definition_default", _definition(EcsSettings()))
    assert_snapshot("ecs_task_definition_full", _definition(settings))
    assert_snapshot("ecs_run_task_default", _run_task(EcsSettings()))
    assert_snapshot("ecs_run_task_full", _run_task(settings))
