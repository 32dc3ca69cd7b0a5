"""One way to build every Stratoflow Lambda: same bundle, runtime, architecture, logging, tracing.

The Vertex launcher alone adds a layer (`LambdaFactory.vertex_layer`: google-auth and
cryptography, which no other function imports), so the common bundle stays small.

`LambdaFactory.create` gives each function its own role (only its log group to start with;
callers grant the rest, scoped to their resources), its own log group with the configured
retention, X-Ray tracing, the powertools environment and the settings' environment variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stratoflow_infra.bundling import lambda_code, vertex_layer_code
from stratoflow_infra.constructs.props import HANDLER_PREFIX
from stratoflow_infra.nag import acknowledge, wildcard_finding

RUNTIME = lambda_.Runtime.PYTHON_3_12
X_RAY_REASON = (
    "xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) support no "
    "resource-level permissions."
)
"""Why every function's role holds actions on `*`; `FunctionSpec.unscoped` adds the rest."""


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between Stratoflow's functions.

    Attributes:
        construct_id: the function's construct id (e.g. `ApiFunction`).
        module: the handler module under `stratoflow_functions.handlers` (e.g. `api`).
        description: shown in the console.
        timeout: the function timeout, sized to its bounded work.
        memory_mb: memory (and so CPU).
        reserved_concurrency: reserved concurrent executions, or None for unreserved.
        dead_letter_queue: where failed asynchronous invocations go.
        unscoped: for each action beyond X-Ray that this function's role will hold on `*`
            (granted by the caller), the sentence saying why it cannot be scoped; it becomes
            part of the role's cdk-nag acknowledgement, which must name every such action.
        environment: variables this function gets on top of the shared settings.
        layers: Lambda layers on top of the bundle (the Vertex launcher's alone).
    """

    construct_id: str
    module: str
    description: str
    timeout: Duration
    memory_mb: int = 512
    reserved_concurrency: int | None = None
    dead_letter_queue: sqs.IQueue | None = None
    unscoped: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    layers: tuple[lambda_.ILayerVersion, ...] = ()


def secure_queue(scope: Construct, construct_id: str, reason: str) -> sqs.Queue:
    """An encrypted, TLS-only queue kept 14 days, used as a dead-letter queue.

    Args:
        scope: the parent construct.
        construct_id: the queue's construct id.
        reason: what fails into it (for the nag acknowledgement).
    """
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is itself the dead-letter queue ({reason}); it needs none of its own.",
    )
    return queue


class LambdaFactory:
    """Builds Stratoflow's functions from one code asset and one base environment."""

    def __init__(
        self,
        scope: Construct,
        *,
        code_path: str | None,
        vertex_layer_path: str | None = None,
        environment: dict[str, str],
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        self._scope = scope
        self._code = lambda_.Code.from_asset(code_path) if code_path else lambda_code()
        self._vertex_layer_path = vertex_layer_path
        self._vertex_layer: lambda_.LayerVersion | None = None
        self._environment = dict(environment)
        self._log_retention = log_retention
        self._removal_policy = removal_policy

    def create(self, spec: FunctionSpec) -> lambda_.Function:
        """Build one function from `spec`."""
        log_group = logs.LogGroup(
            self._scope,
            f"{spec.construct_id}Logs",
            retention=self._log_retention,
            removal_policy=self._removal_policy,
        )
        function = lambda_.Function(
            self._scope,
            spec.construct_id,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=self._code,
            handler=f"{HANDLER_PREFIX}.{spec.module}.handler",
            description=spec.description,
            timeout=spec.timeout,
            memory_size=spec.memory_mb,
            reserved_concurrent_executions=spec.reserved_concurrency,
            dead_letter_queue=spec.dead_letter_queue,
            environment={**self._environment, **spec.environment},
            tracing=lambda_.Tracing.ACTIVE,
            layers=list(spec.layers),
            log_group=log_group,
            role=self._role(spec, log_group),
        )
        self._acknowledge(function)
        return function

    def vertex_layer(self) -> lambda_.LayerVersion:
        """The layer of what the functions' `[vertex]` extra adds (google-auth, cryptography),
        made on first use: only a stack with the Vertex launcher has one."""
        if self._vertex_layer is None:
            path = self._vertex_layer_path
            self._vertex_layer = lambda_.LayerVersion(
                self._scope,
                "VertexLayer",
                code=lambda_.Code.from_asset(path) if path else vertex_layer_code(),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[lambda_.Architecture.ARM_64],
                description="Stratoflow Vertex launcher: google-auth and cryptography.",
            )
        return self._vertex_layer

    def _role(self, spec: FunctionSpec, log_group: logs.ILogGroup) -> iam.Role:
        # Our own role instead of AWSLambdaBasicExecutionRole: writes to this function's
        # log group only, not to every log group in the account.
        role = iam.Role(
            self._scope,
            f"{spec.construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        streams = f"{log_group.log_group_arn}:*"
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn, streams],
            )
        )
        acknowledge(
            role,
            wildcard_finding(role, streams),
            "Log streams are created at run time; the grant is confined to this function's "
            "own log group.",
        )
        acknowledge(
            role, "AwsSolutions-IAM5[Resource::*]", " ".join((X_RAY_REASON, *spec.unscoped))
        )
        return role

    @staticmethod
    def _acknowledge(function: lambda_.Function) -> None:
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Python 3.12 is the runtime the bundle is built and tested for (SPEC); moving to a "
            "newer one is a deliberate upgrade, not a drift.",
        )


_RETENTION = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1096: "THREE_YEARS",
    1827: "FIVE_YEARS",
    2192: "SIX_YEARS",
    2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS",
    3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}


def retention_days(days: int) -> logs.RetentionDays:
    """The CloudWatch retention for `days`, which must be one CloudWatch allows.

    Raises:
        ValueError: `days` is not an allowed retention (e.g. 30, 90, 365).
    """
    if days not in _RETENTION:
        raise ValueError(
            f"log retention of {days} days is not one CloudWatch allows: {sorted(_RETENTION)}"
        )
    return logs.RetentionDays[_RETENTION[days]]
