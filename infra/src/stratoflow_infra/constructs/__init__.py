"""The `Stratoflow` L3 construct: the whole serverless control plane, droppable into any CDK app.

It composes the parts (data, functions, API, Towel, launchers, state-change events,
monitoring) and wires the least-privilege grants between them: each function gets exactly the
table, bucket, bus or state machine actions its handler needs, scoped to those resources.
Settings reach the functions as the environment variables `stratoflow_functions.config`
reads (`_ENV`); the construct imports nothing from `functions/`.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stratoflow_infra.constructs.api import Api
from stratoflow_infra.constructs.data import Data
from stratoflow_infra.constructs.functions import FunctionSpec, LambdaFactory, retention_days
from stratoflow_infra.constructs.launch import Launch, LaunchContext
from stratoflow_infra.constructs.monitoring import (
    METRICS_NAMESPACE,
    SERVICE_NAME,
    Monitoring,
    Watched,
)
from stratoflow_infra.constructs.props import (
    CustomDomain,
    FargateProps,
    KubernetesLauncherProps,
    LambdaRunnerProps,
    StratoflowProps,
    VertexLauncherProps,
)
from stratoflow_infra.constructs.state_events import StateEvents
from stratoflow_infra.constructs.towel import Towel
from stratoflow_infra.nag import acknowledge, wildcard_finding


class Stratoflow(Construct):
    """Stratoflow's control plane on AWS.

    Example:
        Stratoflow(stack, "Stratoflow", props=StratoflowProps(alarm_email="oncall@example.com"))

    Attributes:
        data: the table and buckets.
        api: the two HTTP APIs.
        api_function: the API Lambda.
        authorizer_function: the API-key authorizer Lambda.
        towel: the maintenance functions.
        launch: the launcher state machines.
        bus: the event bus that receives flow-run state changes.
        state_events: the stream consumer.
        monitoring: the dashboard, alarm topic and alarms.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: StratoflowProps) -> None:
        super().__init__(scope, construct_id)
        retention = retention_days(props.log_retention_days)
        self.data = Data(
            self,
            "Data",
            removal_policy=props.removal_policy,
            deletion_protection=props.table_deletion_protection,
            run_retention_days=props.run_retention_days,
        )
        self.bus = events.EventBus(self, "Bus", description="Stratoflow flow-run state changes")
        factory = LambdaFactory(
            self,
            code_path=props.code_path,
            vertex_layer_path=props.vertex_layer_path,
            environment=self._environment(props),
            log_retention=retention,
            removal_policy=props.removal_policy,
        )
        self._build_api(props, factory, retention)
        self.towel = Towel(
            self, "Towel", factory=factory, reserved_concurrency=props.towel_reserved_concurrency
        )
        self.state_events = StateEvents(
            self, "StateEvents", factory=factory, table=self.data.table, bus=self.bus
        )
        self.launch = Launch(
            self,
            "Launch",
            props=props,
            ctx=LaunchContext(
                factory=factory,
                table=self.data.table,
                code_bucket=self.data.code_bucket,
                key_api=self.api.key_api,
                iam_api=self.api.iam_api,
                log_retention=retention,
                removal_policy=props.removal_policy,
            ),
        )
        self.launch.grant_dispatch(self.api_function, cancel=True)
        self.launch.grant_dispatch(self.towel.functions["Scheduler"], cancel=False)
        self._grant()
        self.monitoring = self._monitoring(props)
        self._outputs()

    def _environment(self, props: StratoflowProps) -> dict[str, str]:
        env = {
            "STRATOFLOW_TABLE_NAME": self.data.table.table_name,
            "STRATOFLOW_CODE_BUCKET": self.data.code_bucket.bucket_name,
            "STRATOFLOW_RESULTS_BUCKET": self.data.results_bucket.bucket_name,
            "STRATOFLOW_EVENT_BUS_NAME": self.bus.event_bus_name,
            "STRATOFLOW_ZOMBIE_THRESHOLD_SECONDS": str(props.zombie_threshold_seconds),
            "STRATOFLOW_LOG_RETENTION_DAYS": str(props.log_retention_days),
            "STRATOFLOW_RUN_RETENTION_DAYS": str(props.run_retention_days),
            "STRATOFLOW_INDEX_SHARDS": str(props.index_shards),
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }
        if props.admin_principals:
            env["STRATOFLOW_ADMIN_PRINCIPALS"] = ",".join(props.admin_principals)
        return env

    def _build_api(
        self, props: StratoflowProps, factory: LambdaFactory, retention: logs.RetentionDays
    ) -> None:
        self.api_function = factory.create(
            FunctionSpec(
                construct_id="ApiFunction",
                module="api",
                description="Stratoflow HTTP API (every route).",
                timeout=Duration.seconds(29),
                memory_mb=props.api_memory_mb,
                reserved_concurrency=props.api_reserved_concurrency,
            )
        )
        self.authorizer_function = factory.create(
            FunctionSpec(
                construct_id="AuthorizerFunction",
                module="authorizer",
                description="Stratoflow API-key authorizer.",
                timeout=Duration.seconds(10),
                memory_mb=256,
            )
        )
        self.api = Api(
            self,
            "Api",
            handler=self.api_function,
            authorizer_function=self.authorizer_function,
            authorizer_cache_seconds=props.authorizer_cache_seconds,
            throttle=apigw.ThrottleSettings(
                rate_limit=props.throttle_rate_limit, burst_limit=props.throttle_burst_limit
            ),
            log_retention=retention,
            removal_policy=props.removal_policy,
            custom_domain=props.custom_domain,
        )

    def _grant(self) -> None:
        table = self.data.table
        table.grant_read_write_data(self.api_function)
        for bucket in (self.data.code_bucket, self.data.results_bucket):
            _grant_objects(bucket, self.api_function)
        indexes = f"{table.table_arn}/index/*"
        self.authorizer_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:Query"], resources=[table.table_arn, indexes]
            )
        )
        for function in self.towel.functions.values():
            table.grant_read_write_data(function)
        index_reason = "The table's GSIs (gsi1..gsi5) are part of the store's access patterns."
        for function in (
            self.api_function,
            self.authorizer_function,
            *self.towel.functions.values(),
        ):
            _acknowledge_on_role(function, wildcard_finding(table, indexes), index_reason)

    def _monitoring(self, props: StratoflowProps) -> Monitoring:
        functions = {
            "Api": self.api_function,
            "Authorizer": self.authorizer_function,
            **self.towel.functions,
            "StateEvents": self.state_events.function,
            **{f"{n.capitalize()}Launcher": la.function for n, la in self.launch.launchers.items()},
        }
        if self.launch.runner is not None:
            functions["LambdaRunner"] = self.launch.runner
        queues = {
            **self.towel.dead_letter_queues,
            "StateEvents": self.state_events.dead_letter_queue,
        }
        watched = Watched(
            apis={"KeyApi": self.api.key_api, "IamApi": self.api.iam_api},
            functions=functions,
            queues=queues,
            table=self.data.table,
            state_machines=self.launch.state_machines,
            stream_function=self.state_events.function,
            runner=self.launch.runner,
        )
        return Monitoring(
            self,
            "Monitoring",
            watched=watched,
            alarm_topic=props.alarm_topic,
            alarm_email=props.alarm_email,
        )

    def _outputs(self) -> None:
        CfnOutput(self, "ApiUrl", value=self.api.key_api.api_endpoint, description="API-key API")
        CfnOutput(self, "IamApiUrl", value=self.api.iam_api.api_endpoint, description="SigV4 API")
        CfnOutput(self, "TableName", value=self.data.table.table_name)
        CfnOutput(self, "CodeBucketName", value=self.data.code_bucket.bucket_name)
        CfnOutput(self, "ResultsBucketName", value=self.data.results_bucket.bucket_name)
        CfnOutput(self, "EventBusName", value=self.bus.event_bus_name)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)


def _grant_objects(bucket: s3.IBucket, function: lambda_.IFunction) -> None:
    """Read, write and delete objects, and list the bucket: nothing else."""
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
    )
    objects = bucket.arn_for_objects("*")
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], resources=[objects]
        )
    )
    _acknowledge_on_role(
        function,
        wildcard_finding(bucket, objects),
        "Object keys are per flow, deployment and run; access is confined to this one bucket.",
    )


def _acknowledge_on_role(function: lambda_.IFunction, finding: str, reason: str) -> None:
    """Acknowledge a finding on the function's role, where the policy (and finding) live."""
    assert function.role is not None
    acknowledge(function.role, finding, reason)


__all__ = [
    "CustomDomain",
    "FargateProps",
    "KubernetesLauncherProps",
    "LambdaRunnerProps",
    "Stratoflow",
    "StratoflowProps",
    "VertexLauncherProps",
]
