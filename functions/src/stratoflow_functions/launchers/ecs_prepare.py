"""The ECS launcher's `prepare`: the RunTask request of one run, in the PascalCase Step
Functions' `ecs:runTask.sync` takes, with its task definition registered once.

The task definition's family names a hash of its content (`stratoflow.infrastructure.ecs`), so
a deployment's runs share one: DescribeTaskDefinition of the family finds it after the first
run, and RegisterTaskDefinition is called only when it is missing. The network (cluster,
subnets, security groups, public IP) and the roles come from the stack's settings, each
overridden by the deployment's EcsSettings.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from uuid import UUID

from botocore.exceptions import ClientError

from stratoflow.infrastructure.ecs import run_task_request, task_definition_request
from stratoflow.infrastructure.environment import image_for
from stratoflow.infrastructure.settings import EcsSettings, settings_for
from stratoflow.schemas import FlowRun, InfrastructureType
from stratoflow_functions.launchers.asl import RUN_TASK_PARAMETERS
from stratoflow_functions.launchers.context import EcsClient, LauncherContext, LaunchError


def prepare(ctx: LauncherContext, run_id: UUID) -> dict[str, Any]:
    """The RunTask parameters of `run_id` (exactly `asl.RUN_TASK_PARAMETERS`, PascalCase).

    Raises:
        LaunchError: No deployment, no cluster or API URL configured, or no ECS client.
    """
    if ctx.ecs is None:
        raise LaunchError("this launcher has no ECS client")
    run = ctx.run(run_id)
    deployment = ctx.deployment(run)
    ecs_settings = settings_for(InfrastructureType.ECS, deployment.infra_overrides)
    if not isinstance(ecs_settings, EcsSettings):  # settings_for answers the ECS model here
        raise LaunchError(f"flow run {run_id}'s deployment has no ECS settings")
    definition = task_definition_request(
        ecs_settings,
        image_for(deployment, ecs_settings),
        api_key_secret=ctx.settings.launch_api_key_secret,
        log_group=_log_group(ctx),
        region=ctx.settings.region,
        execution_role_arn=ctx.settings.ecs_execution_role_arn,
        task_role_arn=ctx.settings.ecs_task_role_arn,
    )
    arn = ensure_task_definition(ctx.ecs, definition)
    request = run_task_request(
        ecs_settings, task_definition_arn=arn, run=run, **_network(ctx, ecs_settings, run)
    )
    return asl_request(request)


def _network(ctx: LauncherContext, ecs_settings: EcsSettings, run: FlowRun) -> dict[str, Any]:
    """Cluster (the stack's: its launcher may run tasks there only), environment, and the
    stack's network defaults (the builder lets the deployment's settings override them)."""
    stack = ctx.settings
    cluster = stack.ecs_cluster_arn
    if not cluster:
        raise LaunchError("no ECS cluster: STRATOFLOW_ECS_CLUSTER_ARN is not set")
    return {
        "cluster": cluster,
        "environment": ctx.environment(run, ecs_settings.env),
        "subnets": list(stack.ecs_subnets),
        "security_groups": list(stack.ecs_security_groups),
        "assign_public_ip": stack.ecs_assign_public_ip,
    }


def _log_group(ctx: LauncherContext) -> str:
    """The log group flow-run containers write to (the stack's)."""
    if not ctx.settings.ecs_log_group:
        raise LaunchError("STRATOFLOW_ECS_LOG_GROUP is not set: the task would have no logs")
    return ctx.settings.ecs_log_group


def ensure_task_definition(ecs: EcsClient, definition: dict[str, Any]) -> str:
    """The ARN of the family's active task definition, registered only when missing."""
    family = definition["family"]
    try:
        found = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("ClientException", "ResourceNotFoundException"):
            raise
    else:
        if found.get("status", "ACTIVE") == "ACTIVE":
            return str(found["taskDefinitionArn"])
    registered = ecs.register_task_definition(**definition)["taskDefinition"]
    return str(registered["taskDefinitionArn"])


def asl_request(request: dict[str, Any]) -> dict[str, Any]:
    """boto3's RunTask kwargs in the casing of Step Functions' parameters, every parameter the
    machine passes present (a JSONPath to a missing one would fail the state).

    Raises:
        LaunchError: The builder left out one of them.
    """
    shape = _run_task_shape()
    cased = _to_pascal(request, shape)
    missing = [name for name in RUN_TASK_PARAMETERS if name not in cased]
    if missing:
        raise LaunchError(f"the RunTask request lacks {', '.join(missing)}")
    return {name: cased[name] for name in RUN_TASK_PARAMETERS}


@cache
def _run_task_shape() -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RunTask").input_shape


def _to_pascal(value: Any, shape: Any) -> Any:
    """Structure members PascalCase, by botocore's model (map keys and values untouched)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {_upper_first(k): _to_pascal(v, members.get(k)) for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_to_pascal(item, shape.member) for item in value]
    return value


def _upper_first(key: str) -> str:
    return key[:1].upper() + key[1:]
