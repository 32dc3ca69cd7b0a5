"""ECS requests for a flow run: the task definition (registered once per content) and RunTask.

Both are boto3 keyword arguments (lowerCamel), as the ECS API takes them. A task definition
holds what does not change from run to run (image, size, roles, logging, the API key's secret
reference); its `family` is derived from a hash of that content, so equal settings share one
registered definition and a change makes a new family, never one definition per run. Each run
differs only in its RunTask overrides: the command and environment of SPEC section 7.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from stratoflow.infrastructure.environment import execute_command
from stratoflow.infrastructure.settings import EcsSettings, InfraSettingsError
from stratoflow.schemas import FlowRun

CONTAINER_NAME = "flow"
"""The one container of a Stratoflow task definition."""
FLOW_RUN_TAG = "stratoflow:flow-run-id"
STARTED_BY = "stratoflow"


def task_definition_request(
    settings: EcsSettings,
    image: str,
    *,
    api_key_secret: str | None,
    log_group: str,
    region: str,
    execution_role_arn: str | None = None,
    task_role_arn: str | None = None,
) -> dict[str, Any]:
    """RegisterTaskDefinition arguments for runs with these settings and image.

    Args:
        settings: the deployment's ECS settings (their roles win over the stack's).
        image: the container image (see `image_for`).
        api_key_secret: the ARN of the secret holding the API key, or None (IAM auth).
        log_group: the CloudWatch log group the container logs to.
        region: the log group's region.
        execution_role_arn: the stack's task execution role (pulls the image, reads the key).
        task_role_arn: the stack's default task role (what the flow's code may call).
    """
    content = _task_definition_content(
        settings,
        _container(image, api_key_secret=api_key_secret, log_group=log_group, region=region),
        execution_role_arn=settings.execution_role_arn or execution_role_arn,
        task_role_arn=settings.task_role_arn or task_role_arn,
    )
    return {"family": task_definition_family(content), **content}


def task_definition_family(content: Mapping[str, Any]) -> str:
    """`stratoflow-` + 20 hex digits of the sha256 of the definition's canonical JSON."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return f"stratoflow-{hashlib.sha256(canonical.encode()).hexdigest()[:20]}"


def _task_definition_content(
    settings: EcsSettings,
    container: dict[str, Any],
    *,
    execution_role_arn: str | None,
    task_role_arn: str | None,
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "networkMode": "awsvpc",
        "requiresCompatibilities": [settings.launch_type],
        "cpu": str(settings.cpu),
        "memory": str(settings.memory),
        "runtimePlatform": {
            "cpuArchitecture": settings.cpu_architecture,
            "operatingSystemFamily": "LINUX",
        },
        "containerDefinitions": [container],
    }
    if execution_role_arn:
        content["executionRoleArn"] = execution_role_arn
    if task_role_arn:
        content["taskRoleArn"] = task_role_arn
    if settings.ephemeral_storage_gib is not None:
        content["ephemeralStorage"] = {"sizeInGiB": settings.ephemeral_storage_gib}
    return content


def _container(
    image: str, *, api_key_secret: str | None, log_group: str, region: str
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "essential": True,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": "stratoflow",
            },
        },
    }
    if api_key_secret:
        # ECS resolves the reference when the task starts: the key is in no request.
        container["secrets"] = [{"name": "STRATOFLOW_API_KEY", "valueFrom": api_key_secret}]
    return container


def run_task_request(
    settings: EcsSettings,
    *,
    cluster: str,
    task_definition_arn: str,
    run: FlowRun,
    environment: Mapping[str, str],
    subnets: Sequence[str],
    security_groups: Sequence[str],
    assign_public_ip: bool,
) -> dict[str, Any]:
    """RunTask arguments that start `run` (the settings' network choices win over the stack's).

    Raises:
        InfraSettingsError: no subnet at all (awsvpc needs one).
    """
    request: dict[str, Any] = {
        "cluster": cluster,
        "taskDefinition": task_definition_arn,
        "launchType": settings.launch_type,
        "count": 1,
        "networkConfiguration": _network(settings, subnets, security_groups, assign_public_ip),
        "overrides": {
            "containerOverrides": [
                {
                    "name": CONTAINER_NAME,
                    "command": execute_command(run.id),
                    "environment": [{"name": k, "value": v} for k, v in environment.items()],
                }
            ],
            "cpu": str(settings.cpu),
            "memory": str(settings.memory),
        },
        "tags": _tags(settings, run),
        "startedBy": STARTED_BY,
        "propagateTags": "TASK_DEFINITION",
        # A retried RunTask of the same attempt starts no second task (ECS idempotency).
        "clientToken": f"{run.id}-r{run.resurrections}",
    }
    if settings.launch_type == "FARGATE" and settings.platform_version:
        request["platformVersion"] = settings.platform_version
    return request


def _network(
    settings: EcsSettings,
    subnets: Sequence[str],
    security_groups: Sequence[str],
    assign_public_ip: bool,
) -> dict[str, Any]:
    chosen_subnets = list(settings.subnets if settings.subnets is not None else subnets)
    if not chosen_subnets:
        raise InfraSettingsError(
            "ecs settings: subnets: awsvpc needs at least one subnet (set subnets, or give the "
            "stack some)",
            field="subnets",
        )
    public = (
        settings.assign_public_ip if settings.assign_public_ip is not None else assign_public_ip
    )
    config: dict[str, Any] = {
        "subnets": chosen_subnets,
        "assignPublicIp": "ENABLED" if public else "DISABLED",
    }
    groups = settings.security_groups if settings.security_groups is not None else security_groups
    if groups:
        config["securityGroups"] = list(groups)
    return {"awsvpcConfiguration": config}


def _tags(settings: EcsSettings, run: FlowRun) -> list[dict[str, str]]:
    tags = {**settings.tags, FLOW_RUN_TAG: str(run.id)}  # ours last: a user tag cannot hide it
    if run.deployment_id is not None:
        tags["stratoflow:deployment-id"] = str(run.deployment_id)
    return [{"key": key, "value": value} for key, value in tags.items()]
