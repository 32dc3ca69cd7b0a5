"""The typed properties of the `Stratoflow` construct, with the defaults a production stack wants.

Every knob a user turns when dropping Stratoflow into their own CDK app is here, documented
once. The construct reads nothing else: no context, no environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sns as sns

HANDLER_PREFIX = "stratoflow_functions.handlers"
"""Every Lambda entry point lives in this package of the one bundle."""


@dataclass(frozen=True)
class CustomDomain:
    """A custom domain for the API (the API-key API at `/`, the IAM API under `/iam`).

    Attributes:
        domain_name: e.g. `stratoflow.example.com`; point a DNS alias at the output target.
        certificate: an ACM certificate for `domain_name` in the stack's region.
    """

    domain_name: str
    certificate: acm.ICertificate


@dataclass(frozen=True)
class FargateProps:
    """Where the ECS launcher starts Fargate tasks.

    Attributes:
        vpc: the VPC for flow-run tasks.
        subnets: which subnets of `vpc` (private with egress, or public with
            `assign_public_ip`).
        assign_public_ip: give tasks a public IP (public subnets without a NAT gateway).
        create_cluster: create a dedicated ECS cluster (container insights on); when False,
            `cluster_arn` must name an existing one.
        cluster_arn: an existing cluster to launch into when `create_cluster` is False.
    """

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection = field(
        default_factory=lambda: ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    )
    assign_public_ip: bool = False
    create_cluster: bool = True
    cluster_arn: str | None = None


@dataclass(frozen=True)
class KubernetesLauncherProps:
    """Turn on the Kubernetes launcher: runs become `batch/v1` Jobs on your cluster.

    Attributes:
        kubeconfig_secret_arn: the full ARN of a Secrets Manager secret holding the kubeconfig
            the launcher Lambda uses (only this secret is readable by it).
    """

    kubeconfig_secret_arn: str


@dataclass(frozen=True)
class VertexLauncherProps:
    """Turn on the Vertex AI launcher: runs become CustomJobs in a GCP project.

    Attributes:
        credentials_secret_arn: the full ARN of a Secrets Manager secret holding the GCP
            service-account key JSON the launcher Lambda calls Vertex with.
        project: the GCP project id.
        region: the Vertex AI region (e.g. `us-central1`).
    """

    credentials_secret_arn: str
    project: str
    region: str


LAMBDA_MAX_TIMEOUT = Duration.minutes(15)


@dataclass(frozen=True)
class LambdaRunnerProps:
    """Turn on `--infra lambda`: flows run inside an invocation of a runner function.

    Attributes:
        memory_mb: the runner's memory (and so CPU), 128 - 10240.
        timeout: at most 15 minutes (Lambda's limit); a flow still running then is CRASHED.
    """

    memory_mb: int = 1024
    timeout: Duration = LAMBDA_MAX_TIMEOUT

    def __post_init__(self) -> None:
        """Refuse what Lambda would refuse at deploy time, at synth instead."""
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"LambdaRunnerProps: memory_mb {self.memory_mb} is not in 128-10240")
        if not 1 <= self.timeout.to_seconds() <= LAMBDA_MAX_TIMEOUT.to_seconds():
            raise ValueError("LambdaRunnerProps: timeout must be between 1 s and 15 minutes")


@dataclass(frozen=True)
class StratoflowProps:
    """How to build one Stratoflow control plane.

    Attributes:
        code_path: a directory holding a prebuilt Lambda bundle (`make bundle` builds
            `build/lambda`; tests pass a small stub directory). None (the default) builds the
            bundle at synth time with CDK local bundling, no Docker (needs the repository
            checkout and uv; see `stratoflow_infra.bundling`).
        vertex_layer_path: a directory holding a prebuilt Vertex layer (`make bundle` builds
            `build/lambda-vertex-layer`, packages under `python/`). None (the default) builds
            it at synth time like the bundle; either way only when `vertex` is set.
        log_retention_days: retention of every log group (a CloudWatch-allowed value).
        run_retention_days: finished runs and result objects expire after this many days.
        zombie_threshold_seconds: a RUNNING run with a heartbeat older than this is a zombie.
        alarm_email: an address subscribed to the alarm topic (confirm the e-mail once).
        alarm_topic: an existing SNS topic for alarms; one is created when None.
        fargate: where the ECS launcher runs tasks; None (the default) builds no ECS
            launcher, cluster, task roles or VPC.
        kubernetes: the Kubernetes launcher; None (the default) builds none.
        vertex: the Vertex AI launcher; None (the default) builds none.
        lambda_runner: the Lambda launcher and its runner function; None (the default) builds
            neither.
        launch_api_key_secret_arn: a Secrets Manager secret holding the API key that ECS
            tasks and the Lambda runner send (by reference: the ECS `secrets` field, or read
            by the runner). None: they call the IAM API with their roles (SigV4) instead.
        definitions_path: the folder holding `{ecs,kubernetes,vertex,lambda}.asl.json`; None
            uses the repository checkout's `functions/.../launchers/definitions`.
        removal_policy: what `cdk destroy` does to the table, buckets and logs (RETAIN keeps
            the data).
        table_deletion_protection: DynamoDB deletion protection on the table.
        custom_domain: serve the APIs on your own domain.
        api_reserved_concurrency: reserved concurrency of the API Lambda (None: unreserved).
        towel_reserved_concurrency: reserved concurrency of each Towel Lambda; 1 keeps a
            slow run from overlapping the next (they are also safe twice at once). Set None
            on accounts whose concurrency quota is still the new-account 10.
        throttle_rate_limit: steady requests per second per API stage.
        throttle_burst_limit: burst requests per API stage.
        authorizer_cache_seconds: how long API Gateway caches an API-key decision (0 - 3600).
        admin_principals: IAM principal ARNs that act as admins (a role's covers its sessions).
        api_memory_mb: memory of the API Lambda (CPU scales with it).
        index_shards: how many shards each run-index partition of the table is written over
            (1-32; docs/data-model.md, "Write sharding"): raise it for more flow-run writes a
            second, at the cost of one more query per list page per shard.
    """

    code_path: str | None = None
    vertex_layer_path: str | None = None
    log_retention_days: int = 30
    run_retention_days: int = 90
    zombie_threshold_seconds: int = 600
    alarm_email: str | None = None
    alarm_topic: sns.ITopic | None = None
    fargate: FargateProps | None = None
    kubernetes: KubernetesLauncherProps | None = None
    vertex: VertexLauncherProps | None = None
    lambda_runner: LambdaRunnerProps | None = None
    launch_api_key_secret_arn: str | None = None
    definitions_path: str | None = None
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    table_deletion_protection: bool = True
    custom_domain: CustomDomain | None = None
    api_reserved_concurrency: int | None = None
    towel_reserved_concurrency: int | None = 1
    throttle_rate_limit: float = 100.0
    throttle_burst_limit: int = 200
    authorizer_cache_seconds: int = 300
    admin_principals: tuple[str, ...] = ()
    api_memory_mb: int = 1024
    index_shards: int = 8
