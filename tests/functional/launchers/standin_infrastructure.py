"""A minimal private stand-in for `stratoflow.infrastructure` (helper A's builders), installed
only while that package is not on the branch: the signatures of DESIGN10 section 1, enough for
the launcher tests. Never imported once the real package exists."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stratoflow.schemas import CodeImage, Deployment, FlowRun, InfrastructureType


class InfraSettingsError(ValueError):
    pass


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")
    env: dict[str, str] = Field(default_factory=dict)
    image: str | None = None


class EcsSettings(_Base):
    cluster: str | None = None
    subnets: list[str] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    assign_public_ip: bool | None = None
    cpu: int = 256
    memory: int = 512
    launch_type: str = "FARGATE"


class JobSettings(_Base):
    pass


def settings_for(infra: InfrastructureType, values: Any) -> Any:
    model = EcsSettings if infra is InfrastructureType.ECS else JobSettings
    try:
        return model.model_validate(dict(values))
    except ValueError as exc:
        raise InfraSettingsError(str(exc)) from exc


def launch_environment(api_url: str, flow_run_id: Any, extra: dict[str, str]) -> dict[str, str]:
    return {"STRATOFLOW_API_URL": api_url, "STRATOFLOW_FLOW_RUN_ID": str(flow_run_id), **extra}


def execute_command(flow_run_id: Any) -> list[str]:
    return ["stratoflow", "execute", str(flow_run_id)]


def image_for(deployment: Deployment, settings: Any) -> str:
    if settings.image:
        return str(settings.image)
    if isinstance(deployment.code, CodeImage):
        return deployment.code.image
    return "stratoflow/runtime:latest"


def task_definition_request(
    settings: Any, image: str, *, api_key_secret: str | None, log_group: str | None, region: str
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "flow", "image": image, "essential": True}
    if api_key_secret:
        container["secrets"] = [{"name": "STRATOFLOW_API_KEY", "valueFrom": api_key_secret}]
    rest = {
        "containerDefinitions": [container],
        "requiresCompatibilities": [settings.launch_type],
        "networkMode": "awsvpc",
        "cpu": str(settings.cpu),
        "memory": str(settings.memory),
    }
    digest = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:20]
    return {"family": f"stratoflow-{digest}", **rest}


def run_task_request(
    settings: Any,
    *,
    cluster: str,
    task_definition_arn: str,
    run: FlowRun,
    environment: dict[str, str],
    subnets: list[str],
    security_groups: list[str],
    assign_public_ip: bool,
) -> dict[str, Any]:
    return {
        "cluster": cluster,
        "taskDefinition": task_definition_arn,
        "launchType": settings.launch_type,
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": subnets,
                "securityGroups": security_groups,
                "assignPublicIp": "ENABLED" if assign_public_ip else "DISABLED",
            }
        },
        "overrides": {
            "containerOverrides": [
                {
                    "name": "flow",
                    "command": execute_command(run.id),
                    "environment": [{"name": k, "value": v} for k, v in environment.items()],
                }
            ]
        },
        "tags": [{"key": "stratoflow:flow-run-id", "value": str(run.id)}],
        "startedBy": "stratoflow",
        "propagateTags": "TASK_DEFINITION",
    }


def job_manifest(
    settings: Any, run: FlowRun, image: str, environment: dict[str, str]
) -> dict[str, Any]:
    return {
        "kind": "Job",
        "metadata": {"name": f"stratoflow-{run.id}"},
        "image": image,
        "env": environment,
    }


def custom_job(
    settings: Any, run: FlowRun, image: str, environment: dict[str, str]
) -> dict[str, Any]:
    return {"displayName": f"stratoflow-{run.id}", "image": image, "env": environment}


def install() -> None:
    """Put the stand-in in place when the real package is absent."""
    try:
        import stratoflow.infrastructure
    except ImportError:
        pass
    else:
        return
    import stratoflow

    names = {
        "settings": ["settings_for", "InfraSettingsError", "EcsSettings"],
        "environment": ["launch_environment", "execute_command", "image_for"],
        "ecs": ["task_definition_request", "run_task_request"],
        "kubernetes": ["job_manifest"],
        "vertex": ["custom_job"],
    }
    package = types.ModuleType("stratoflow.infrastructure")
    package.__path__ = []
    sys.modules["stratoflow.infrastructure"] = package
    stratoflow.infrastructure = package
    here = sys.modules[__name__]
    for module_name, attrs in names.items():
        module = types.ModuleType(f"stratoflow.infrastructure.{module_name}")
        for attr in attrs:
            setattr(module, attr, getattr(here, attr))
        sys.modules[module.__name__] = module
        setattr(package, module_name, module)
