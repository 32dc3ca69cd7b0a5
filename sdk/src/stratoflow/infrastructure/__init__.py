"""Job-spec builders and typed settings for each infrastructure a flow run can run on.

Pure functions from a deployment's settings, a flow run and the stack's configuration to the
exact request each platform takes: ECS RegisterTaskDefinition / RunTask (`ecs`), a Kubernetes
`batch/v1` Job (`kubernetes`), a Vertex AI CustomJob (`vertex`) and the Lambda runner's payload
(`aws_lambda`). The push launchers (functions) and the pull agents share them. Secrets appear
only as references. Nothing here does I/O; it imports the standard library, pydantic and
`stratoflow.schemas` only (a test checks it).
"""

from stratoflow.infrastructure.aws_lambda import runner_payload
from stratoflow.infrastructure.ecs import (
    CONTAINER_NAME,
    FLOW_RUN_TAG,
    run_task_request,
    task_definition_family,
    task_definition_request,
)
from stratoflow.infrastructure.environment import (
    DEFAULT_RUNTIME_IMAGE,
    INFRASTRUCTURE_ID_ENV,
    execute_command,
    image_for,
    launch_environment,
)
from stratoflow.infrastructure.kubernetes import FLOW_RUN_LABEL, job_id, job_manifest, job_name
from stratoflow.infrastructure.settings import (
    LAMBDA_MAX_SECONDS,
    RESERVED_ENV,
    SETTINGS_MODELS,
    BaseInfraSettings,
    DockerSettings,
    EcsSettings,
    InfraSettings,
    InfraSettingsError,
    KubernetesResources,
    KubernetesSettings,
    LambdaSettings,
    LocalSettings,
    SecretKeyRef,
    Toleration,
    VertexSettings,
    settings_for,
)
from stratoflow.infrastructure.vertex import custom_job

__all__ = [
    "CONTAINER_NAME",
    "DEFAULT_RUNTIME_IMAGE",
    "FLOW_RUN_LABEL",
    "FLOW_RUN_TAG",
    "INFRASTRUCTURE_ID_ENV",
    "LAMBDA_MAX_SECONDS",
    "RESERVED_ENV",
    "SETTINGS_MODELS",
    "BaseInfraSettings",
    "DockerSettings",
    "EcsSettings",
    "InfraSettings",
    "InfraSettingsError",
    "KubernetesResources",
    "KubernetesSettings",
    "LambdaSettings",
    "LocalSettings",
    "SecretKeyRef",
    "Toleration",
    "VertexSettings",
    "custom_job",
    "execute_command",
    "image_for",
    "job_id",
    "job_manifest",
    "job_name",
    "launch_environment",
    "run_task_request",
    "runner_payload",
    "settings_for",
    "task_definition_family",
    "task_definition_request",
]
