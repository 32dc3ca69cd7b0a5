"""The standalone Stratoflow stack that `infra/app.py` deploys, configured by CDK context.

Everything user-tunable comes in as `-c stratoflow:<key>=<value>` (or the `context` block of
`cdk.json`) and is turned into `StratoflowProps` by `props_from_context`; the construct itself
never reads context. See docs/deploy.md for the keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from stratoflow_infra.constructs import (
    CustomDomain,
    FargateProps,
    KubernetesLauncherProps,
    LambdaRunnerProps,
    Stratoflow,
    StratoflowProps,
    VertexLauncherProps,
)

PREFIX = "stratoflow:"


def _optional_int(raw: Any) -> int | None:
    return None if raw in (None, "", "none") else int(raw)


class ContextReader:
    """Typed access to `stratoflow:*` context values of one construct's tree."""

    def __init__(self, scope: Construct) -> None:
        self._scope = scope

    def get(self, key: str, default: Any = None, convert: Callable[[Any], Any] = str) -> Any:
        """The context value `stratoflow:<key>` converted, or `default` when unset."""
        raw = self._scope.node.try_get_context(PREFIX + key)
        return default if raw is None else convert(raw)


def _on(raw: Any) -> bool:
    """A context flag: `true`/`on`/`1`/`yes` (any case) or a JSON true."""
    return str(raw).strip().lower() in ("true", "on", "1", "yes")


def _fargate(stack: Stack, ctx: ContextReader) -> FargateProps | None:
    vpc_id = ctx.get("vpcId")
    # Off unless asked for: `fargate=new-vpc`, or an existing VPC named by `vpcId`.
    mode = ctx.get("fargate", "vpc" if vpc_id else "none")
    if mode == "none":
        return None
    if mode not in ("new-vpc", "vpc"):
        raise ValueError(f"stratoflow:fargate must be none or new-vpc, not {mode!r}")
    if vpc_id:
        vpc = ec2.Vpc.from_lookup(stack, "Vpc", vpc_id=vpc_id)
        return FargateProps(vpc=vpc, assign_public_ip=False)
    vpc = _public_vpc(stack)
    public = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
    return FargateProps(vpc=vpc, subnets=public, assign_public_ip=True)


def _public_vpc(stack: Stack) -> ec2.Vpc:
    # Public subnets only: tasks get a public IP for egress, so no NAT gateway bills by the
    # hour; the tasks' security group admits nothing inbound. The default security group is
    # stripped of its rules (nothing uses it; anything put in it by mistake gets no traffic).
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        restrict_default_security_group=True,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)
        ],
    )
    vpc.add_flow_log(
        "FlowLogs",
        destination=ec2.FlowLogDestination.to_cloud_watch_logs(
            logs.LogGroup(stack, "VpcFlowLogs", retention=logs.RetentionDays.ONE_MONTH)
        ),
        traffic_type=ec2.FlowLogTrafficType.REJECT,
    )
    return vpc


def _kubernetes(ctx: ContextReader) -> KubernetesLauncherProps | None:
    secret = ctx.get("kubernetesKubeconfigSecretArn")
    return KubernetesLauncherProps(kubeconfig_secret_arn=secret) if secret else None


VERTEX_KEYS = ("vertexCredentialsSecretArn", "vertexProject", "vertexRegion")


def _vertex(ctx: ContextReader) -> VertexLauncherProps | None:
    values = {key: ctx.get(key) for key in VERTEX_KEYS}
    if not any(values.values()):
        return None
    missing = [f"stratoflow:{key}" for key, value in values.items() if not value]
    if missing:
        raise ValueError(f"the Vertex launcher needs {', '.join(missing)} as well")
    secret, project, region = values.values()
    return VertexLauncherProps(credentials_secret_arn=secret, project=project, region=region)


def _lambda_runner(ctx: ContextReader) -> LambdaRunnerProps | None:
    if not ctx.get("lambdaRunner", False, _on):
        return None
    return LambdaRunnerProps(
        memory_mb=ctx.get("lambdaRunnerMemoryMb", 1024, int),
        timeout=Duration.seconds(ctx.get("lambdaRunnerTimeoutSeconds", 900, int)),
    )


def _domain(stack: Stack, ctx: ContextReader) -> CustomDomain | None:
    name, cert_arn = ctx.get("domainName"), ctx.get("certificateArn")
    if not name or not cert_arn:
        return None
    certificate = acm.Certificate.from_certificate_arn(stack, "Certificate", cert_arn)
    return CustomDomain(domain_name=name, certificate=certificate)


def props_from_context(stack: Stack) -> StratoflowProps:
    """Build the construct's props from `stratoflow:*` context (defaults: a production setup)."""
    ctx = ContextReader(stack)
    destroy = ctx.get("removalPolicy", "retain") == "destroy"
    return StratoflowProps(
        code_path=ctx.get("codePath"),
        vertex_layer_path=ctx.get("vertexLayerPath"),
        log_retention_days=ctx.get("logRetentionDays", 30, int),
        run_retention_days=ctx.get("runRetentionDays", 90, int),
        zombie_threshold_seconds=ctx.get("zombieThresholdSeconds", 600, int),
        alarm_email=ctx.get("alarmEmail"),
        fargate=_fargate(stack, ctx),
        kubernetes=_kubernetes(ctx),
        vertex=_vertex(ctx),
        lambda_runner=_lambda_runner(ctx),
        launch_api_key_secret_arn=ctx.get("launchApiKeySecretArn"),
        definitions_path=ctx.get("definitionsPath"),
        removal_policy=RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN,
        table_deletion_protection=not destroy,
        custom_domain=_domain(stack, ctx),
        api_reserved_concurrency=ctx.get("apiReservedConcurrency", None, _optional_int),
        towel_reserved_concurrency=ctx.get("towelReservedConcurrency", 1, _optional_int),
        admin_principals=tuple(p for p in ctx.get("adminPrincipals", "").split(",") if p),
    )


class StratoflowStack(Stack):
    """One Stratoflow control plane in its own stack.

    Attributes:
        stratoflow: the construct.
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("project", "stratoflow")
        self.stratoflow = Stratoflow(self, "Stratoflow", props=props_from_context(self))
