"""The typed settings of each infrastructure: what a deployment's `infra_overrides` may hold.

One pydantic model per `InfrastructureType` (like Prefect's job configuration per worker type),
each refusing unknown fields. `settings_for()` is the one way in: the API validates a
deployment's overrides with it before storing them, `stratoflow deploy` before sending them, and
the launchers and agents read the stored overrides back through it. Every problem is an
`InfraSettingsError` whose message names the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from stratoflow.schemas import InfrastructureType
from stratoflow.schemas.auth import API_KEY_PREFIX
from stratoflow.schemas.flows import IMAGE_REFERENCE_PATTERN


class InfraSettingsError(ValueError):
    """Infrastructure settings that cannot be used; the message names the field and why.

    Attributes:
        field: the dotted name of the first bad field ("" when the whole value is bad).
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


RESERVED_ENV = frozenset(
    {
        "STRATOFLOW_API_URL",
        "STRATOFLOW_FLOW_RUN_ID",
        "STRATOFLOW_API_KEY",
        "STRATOFLOW_API_KEY_SECRET",
        "STRATOFLOW_INFRASTRUCTURE_ID",
    }
)
"""Variables the launcher or agent sets itself (SPEC section 7); the API key only by reference.

`STRATOFLOW_INFRASTRUCTURE_ID` says what runs the run (docs/agents/README.md): a deployment that
set it would make the run's heartbeats point somewhere else."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMAGE = re.compile(IMAGE_REFERENCE_PATTERN)


def _check_env(env: dict[str, str]) -> dict[str, str]:
    for name, value in env.items():
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not an environment variable name")
        if name in RESERVED_ENV:
            raise ValueError(f"{name} is set by the launcher: it cannot be given in env")
        if value.startswith(API_KEY_PREFIX):
            # A key in plain env would sit in task overrides and manifests for anyone to read.
            raise ValueError(f"{name} looks like a Stratoflow API key: pass keys by reference")
    return env


def _scalars_as_text(env: Any) -> Any:
    # `--set env.PORT=8080` and TOML's `PORT = 8080` mean the text "8080" in an environment.
    if not isinstance(env, dict):
        return env
    return {name: _text(value) for name, value in env.items()}


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


def _check_image(value: str) -> str:
    if not _IMAGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a container image reference ([registry/]name[:tag])")
    return value


Env = Annotated[dict[str, str], BeforeValidator(_scalars_as_text), AfterValidator(_check_env)]
Image = Annotated[str, Field(max_length=512), AfterValidator(_check_image)]


class BaseInfraSettings(BaseModel):
    """What every infrastructure's settings have."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: Env = Field(
        default_factory=dict, description="extra environment variables for the run (plain values)"
    )


class LocalSettings(BaseInfraSettings):
    """A run started as a process by a local agent."""


def _check_volume(value: str) -> str:
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]) or not parts[1].startswith("/"):
        raise ValueError(f"{value!r} is not HOST:CONTAINER[:MODE] (CONTAINER an absolute path)")
    if len(parts) == 3 and parts[2] not in ("ro", "rw"):
        raise ValueError(f"{value!r}: the mode is ro or rw")
    return value


Volume = Annotated[str, Field(max_length=4096), AfterValidator(_check_volume)]
"""A Docker bind mount or named volume: `HOST:CONTAINER[:ro|rw]`."""


class DockerSettings(BaseInfraSettings):
    """A run in a container started by a Docker agent."""

    image: Image | None = Field(default=None, description="the image (default: see image_for)")
    network: str | None = Field(default=None, max_length=255, description="a Docker network")
    volumes: list[Volume] = Field(
        default_factory=list, max_length=64, description="HOST:CONTAINER[:ro|rw] bind mounts"
    )


FARGATE_MEMORY: dict[int, range] = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}
"""The CPU units Fargate accepts, each with the memory (MiB) it accepts alongside."""

Arn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:[a-z0-9-]+:", max_length=2048)]


class EcsSettings(BaseInfraSettings):
    """A run as one ECS task (Fargate or EC2), awsvpc networking."""

    image: Image | None = Field(default=None, description="the image (default: see image_for)")
    launch_type: Literal["FARGATE", "EC2"] = "FARGATE"
    cpu: int = Field(default=1024, ge=128, le=196_608, description="CPU units (1024 = 1 vCPU)")
    memory: int = Field(default=2048, ge=128, le=983_040, description="memory in MiB")
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    ephemeral_storage_gib: int | None = Field(
        default=None, ge=21, le=200, description="Fargate task storage (default 20 GiB)"
    )
    platform_version: str | None = Field(
        default=None, max_length=32, description="Fargate platform version (default LATEST)"
    )
    subnets: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")]] | None = Field(
        default=None, max_length=16, description="subnet ids (default: the stack's)"
    )
    security_groups: list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]+$")]] | None = Field(
        default=None, max_length=5, description="security group ids (default: the stack's)"
    )
    assign_public_ip: bool | None = Field(default=None, description="default: the stack's")
    task_role_arn: Arn | None = Field(default=None, description="the role the flow's code has")
    execution_role_arn: Arn | None = Field(
        default=None, description="the role ECS pulls the image and reads the key with"
    )
    tags: dict[str, str] = Field(default_factory=dict, description="extra tags on the task")

    @model_validator(mode="after")
    def _fargate_sizes(self) -> EcsSettings:
        if self.launch_type != "FARGATE":
            return self
        if self.cpu not in FARGATE_MEMORY:
            raise ValueError(f"cpu: Fargate accepts {', '.join(map(str, FARGATE_MEMORY))}")
        allowed = FARGATE_MEMORY[self.cpu]
        if self.memory not in allowed:
            raise ValueError(
                f"memory: with cpu {self.cpu} Fargate accepts {allowed.start} to "
                f"{allowed.stop - 1} MiB in steps of {allowed.step}"
            )
        return self


_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|[KMGTPE]i?|[eE][0-9]+)?$")


def _quantity(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # `--set resources.limits.cpu=2` arrives as a JSON number
    if isinstance(value, str) and not _QUANTITY.fullmatch(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    return value


Quantity = Annotated[str, BeforeValidator(_quantity)]
"""A Kubernetes quantity: `500m`, `2`, `4Gi`."""
DnsName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)]
LabelKey = Annotated[
    str,
    Field(pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"),
]
LabelValue = Annotated[
    str, Field(pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$", max_length=63)
]


class KubernetesResources(BaseModel):
    """Container resources: `{"requests": {"cpu": "500m"}, "limits": {"memory": "2Gi"}}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class Toleration(BaseModel):
    """A pod toleration (the Kubernetes fields, snake_case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str | None = Field(default=None, max_length=317)
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str | None = Field(default=None, max_length=63)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(default=None, ge=0)


class SecretKeyRef(BaseModel):
    """A key of a Kubernetes Secret in the job's namespace."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DnsName
    key: str = Field(default="api-key", pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)


class KubernetesSettings(BaseInfraSettings):
    """A run as one `batch/v1` Job."""

    image: Image | None = Field(default=None, description="the image (default: see image_for)")
    namespace: DnsName = "default"
    service_account_name: DnsName | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    image_pull_secrets: list[DnsName] = Field(default_factory=list, max_length=16)
    resources: KubernetesResources = Field(default_factory=KubernetesResources)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list, max_length=32)
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    annotations: dict[LabelKey, str] = Field(default_factory=dict)
    ttl_seconds_after_finished: int = Field(default=3600, ge=0)
    active_deadline_seconds: int | None = Field(default=None, ge=1)
    api_key_secret: SecretKeyRef | None = Field(
        default=None, description="the Secret holding the API key (none: the pod's own auth)"
    )


GcpLabelKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
GcpLabelValue = Annotated[str, Field(pattern=r"^[a-z0-9_-]{0,63}$")]
SECRET_VERSION_PATTERN = r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$"  # noqa: S105
"""A GCP Secret Manager secret version name."""


class VertexSettings(BaseInfraSettings):
    """A run as one Vertex AI CustomJob with a single worker."""

    image: Image | None = Field(default=None, description="the image (default: see image_for)")
    project: str | None = Field(default=None, max_length=64, description="default: the stack's")
    region: str = Field(default="us-central1", pattern=r"^[a-z]+-[a-z]+[0-9]+$")
    machine_type: str = Field(default="n1-standard-4", max_length=64)
    accelerator_type: str | None = Field(
        default=None, pattern=r"^[A-Z0-9_]+$", description="e.g. NVIDIA_TESLA_T4"
    )
    accelerator_count: int = Field(default=0, ge=0, le=16)
    boot_disk_type: Literal["pd-ssd", "pd-standard"] = "pd-ssd"
    boot_disk_size_gb: int = Field(default=100, ge=100, le=64_000)
    service_account: str | None = Field(default=None, max_length=320)
    network: str | None = Field(
        default=None, pattern=r"^projects/[^/]+/global/networks/[^/]+$", description="VPC peering"
    )
    labels: dict[GcpLabelKey, GcpLabelValue] = Field(default_factory=dict, max_length=60)
    timeout_seconds: int = Field(default=86_400, ge=60, le=604_800)
    api_key_secret: Annotated[str, Field(pattern=SECRET_VERSION_PATTERN)] | None = Field(
        default=None, description="projects/P/secrets/S/versions/V holding the API key"
    )

    @model_validator(mode="after")
    def _accelerators_come_in_pairs(self) -> VertexSettings:
        if (self.accelerator_type is None) != (self.accelerator_count == 0):
            raise ValueError(
                "accelerator_count: give accelerator_type with accelerator_count >= 1, or neither"
            )
        return self


LAMBDA_MAX_SECONDS = 900


class LambdaSettings(BaseInfraSettings):
    """A run inside one invocation of the stack's runner function."""

    timeout_seconds: int = Field(
        default=LAMBDA_MAX_SECONDS, ge=1, le=LAMBDA_MAX_SECONDS, description="at most 15 minutes"
    )


InfraSettings = (
    LocalSettings
    | DockerSettings
    | EcsSettings
    | KubernetesSettings
    | VertexSettings
    | LambdaSettings
)

SETTINGS_MODELS: Mapping[InfrastructureType, type[BaseInfraSettings]] = {
    InfrastructureType.LOCAL: LocalSettings,
    InfrastructureType.DOCKER: DockerSettings,
    InfrastructureType.ECS: EcsSettings,
    InfrastructureType.KUBERNETES: KubernetesSettings,
    InfrastructureType.VERTEX: VertexSettings,
    InfrastructureType.LAMBDA: LambdaSettings,
}
"""The settings model of each infrastructure."""


def settings_for(infra: InfrastructureType, values: Mapping[str, Any]) -> InfraSettings:
    """The settings of `infra` from a deployment's `infra_overrides`.

    Raises:
        InfraSettingsError: a field is unknown, missing or invalid (the message names it).
    """
    model = SETTINGS_MODELS[InfrastructureType(infra)]
    try:
        settings: InfraSettings = model.model_validate(dict(values))  # type: ignore[assignment]
    except ValidationError as exc:
        raise _error(InfrastructureType(infra), model, exc) from exc
    return settings


def _error(
    infra: InfrastructureType, model: type[BaseInfraSettings], exc: ValidationError
) -> InfraSettingsError:
    problems = [_problem(model, error) for error in exc.errors()]
    first_field = problems[0][0]
    shown = "; ".join(f"{where}: {what}" if where else what for where, what in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return InfraSettingsError(f"{infra.value} settings: {shown}{more}", field=first_field)


def _problem(model: type[BaseInfraSettings], error: Any) -> tuple[str, str]:
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        known = ", ".join(model.model_fields) if len(error["loc"]) == 1 else ""
        message = f"unknown setting{f' (known: {known})' if known else ''}"
    if not where and ": " in message:  # a model check that names its field itself
        where, _, message = message.partition(": ")
    return where, message
