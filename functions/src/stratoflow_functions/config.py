"""Settings read once from the environment into a frozen object at cold start.

Logic never reads `os.environ`: handlers call `load_settings()` once and pass the result down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from stratoflow.orchestration import DEFAULT_LEASE_SECONDS
from stratoflow.schemas import InfrastructureType


@dataclass(frozen=True)
class Settings:
    """Everything the control plane needs to know about where it runs."""

    table_name: str = "stratoflow"
    region: str = "us-east-1"
    code_bucket: str = "stratoflow-code"
    results_bucket: str = "stratoflow-results"
    event_bus_name: str = "default"
    aws_endpoint_url: str | None = None
    """Set in the local stack: the embedded AWS emulator's URL."""
    zombie_threshold_seconds: int = 600
    lazarus_max_resurrections: int = 3
    slot_lease_seconds: float = DEFAULT_LEASE_SECONDS
    """How long a concurrency slot stays held without renewal; a flow run's heartbeat renews
    the leases of its own slots and of its task runs' once a quarter of this has passed."""
    late_after_seconds: int = 15
    scheduler_max_runs: int = 100
    scheduler_min_runs: int = 3
    scheduler_horizon_days: int = 7
    log_retention_days: int = 30
    run_retention_days: int = 90
    max_body_bytes: int = 1024 * 1024
    admin_principals: tuple[str, ...] = field(default_factory=tuple)
    """IAM principal ARNs that act as admins (a role ARN covers that role's sessions; no
    prefixes or wildcards); every IAM caller is a regular caller otherwise."""
    service_name: str = "stratoflow"
    ecs_launcher_arn: str | None = None
    """The ECS/Fargate launcher state machine, when the stack has one."""
    kubernetes_launcher_arn: str | None = None
    """The Kubernetes launcher state machine, when the stack has one."""
    vertex_launcher_arn: str | None = None
    """The Vertex AI launcher state machine, when the stack has one."""
    lambda_launcher_arn: str | None = None
    """The Lambda launcher state machine (runs flows in the runner function), when enabled."""
    launch_api_url: str | None = None
    """The API URL a launched run receives as `STRATOFLOW_API_URL` (SPEC section 7)."""
    launch_api_key_secret: str | None = None
    """ARN of the Secrets Manager secret holding the API key launched runs outside AWS IAM
    receive by reference (ECS `secrets`, a Kubernetes Secret); never its value."""
    launcher_poll_seconds: int = 15
    """How long the Kubernetes and Vertex launchers wait between two status polls."""
    dispatch_per_tick: int = 100
    """The most executions one scheduler tick starts (the rest wait for the next tick)."""
    index_shards: int = 8
    """How many shards each run-index partition is written over (docs/data-model.md, "Write
    sharding"): raise it for more writes per second; lowering it loses nothing (reads cover
    the most any writer used) but spreads the writes less."""
    # Dispatch and cancellation of pushed runs (launchers/dispatcher.py, launchers/cancel.py).
    ecs_cluster_arn: str | None = None
    """The ECS cluster launched tasks run on (StopTask of a task ARN that does not name it)."""

    def __post_init__(self) -> None:
        """Reject settings no deployment can run with.

        Raises:
            ValueError: `index_shards` outside 1..MAX_INDEX_SHARDS.
        """
        if not 1 <= self.index_shards <= MAX_INDEX_SHARDS:
            raise ValueError(f"index_shards must be 1..{MAX_INDEX_SHARDS}, got {self.index_shards}")

    def launcher_arn(self, infrastructure: InfrastructureType) -> str | None:
        """The launcher state machine that pushes runs of `infrastructure`, if the stack has one
        (runs of an infrastructure without one wait for a pull agent)."""
        return {
            InfrastructureType.ECS: self.ecs_launcher_arn,
            InfrastructureType.KUBERNETES: self.kubernetes_launcher_arn,
            InfrastructureType.VERTEX: self.vertex_launcher_arn,
            InfrastructureType.LAMBDA: self.lambda_launcher_arn,
        }.get(infrastructure)

    @property
    def pushed(self) -> tuple[InfrastructureType, ...]:
        """The infrastructure types this stack launches itself (those with a launcher)."""
        return tuple(kind for kind in InfrastructureType if self.launcher_arn(kind))


MAX_INDEX_SHARDS = 32
"""A list page queries every shard, so more shards make every list dearer; 32 take about 30
million runs a day (docs/data-model.md), more than the unsharded work-queue item does."""


_ENV = {
    "table_name": "STRATOFLOW_TABLE_NAME",
    "region": "AWS_REGION",
    "code_bucket": "STRATOFLOW_CODE_BUCKET",
    "results_bucket": "STRATOFLOW_RESULTS_BUCKET",
    "event_bus_name": "STRATOFLOW_EVENT_BUS_NAME",
    "aws_endpoint_url": "STRATOFLOW_AWS_ENDPOINT_URL",
    "zombie_threshold_seconds": "STRATOFLOW_ZOMBIE_THRESHOLD_SECONDS",
    "lazarus_max_resurrections": "STRATOFLOW_LAZARUS_MAX_RESURRECTIONS",
    "slot_lease_seconds": "STRATOFLOW_SLOT_LEASE_SECONDS",
    "late_after_seconds": "STRATOFLOW_LATE_AFTER_SECONDS",
    "scheduler_max_runs": "STRATOFLOW_SCHEDULER_MAX_RUNS",
    "scheduler_min_runs": "STRATOFLOW_SCHEDULER_MIN_RUNS",
    "scheduler_horizon_days": "STRATOFLOW_SCHEDULER_HORIZON_DAYS",
    "log_retention_days": "STRATOFLOW_LOG_RETENTION_DAYS",
    "run_retention_days": "STRATOFLOW_RUN_RETENTION_DAYS",
    "max_body_bytes": "STRATOFLOW_MAX_BODY_BYTES",
    "admin_principals": "STRATOFLOW_ADMIN_PRINCIPALS",
    "ecs_launcher_arn": "STRATOFLOW_ECS_LAUNCHER_ARN",
    "kubernetes_launcher_arn": "STRATOFLOW_KUBERNETES_LAUNCHER_ARN",
    "vertex_launcher_arn": "STRATOFLOW_VERTEX_LAUNCHER_ARN",
    "lambda_launcher_arn": "STRATOFLOW_LAMBDA_LAUNCHER_ARN",
    "launch_api_url": "STRATOFLOW_LAUNCH_API_URL",
    "launch_api_key_secret": "STRATOFLOW_LAUNCH_API_KEY_SECRET",
    "launcher_poll_seconds": "STRATOFLOW_LAUNCHER_POLL_SECONDS",
    "dispatch_per_tick": "STRATOFLOW_DISPATCH_PER_TICK",
    "index_shards": "STRATOFLOW_INDEX_SHARDS",
    "ecs_cluster_arn": "STRATOFLOW_ECS_CLUSTER_ARN",
}
"""The environment variable behind each setting; the CDK construct sets the same names."""


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from `environ` (the process environment by default)."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, object] = {}
    for name, var in _ENV.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        current = getattr(defaults, name)
        if isinstance(current, tuple):
            values[name] = tuple(part.strip() for part in raw.split(",") if part.strip())
        elif isinstance(current, int):
            values[name] = int(raw)
        elif isinstance(current, float):
            values[name] = float(raw)
        else:
            values[name] = raw
    if "region" not in values and env.get("AWS_DEFAULT_REGION"):
        values["region"] = env["AWS_DEFAULT_REGION"]
    return Settings(**values)  # type: ignore[arg-type]
