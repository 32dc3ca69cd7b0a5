"""Console monitoring: one CloudWatch dashboard, and alarms on what should page someone.

Alarms go to an SNS topic (encrypted with a customer-managed key that CloudWatch may use;
the AWS-managed SNS key cannot be used by alarms). What pages: API 5xx, Lambda errors that
persist, anything in a dead-letter queue, DynamoDB throttling, a stream consumer falling
behind, launchers failing repeatedly, a launcher execution timing out or throttled, and the
Lambda runner throttled. Metrics that only inform stay on the dashboard; each launcher gets its
own row (executions by outcome, execution time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

METRICS_NAMESPACE = "Stratoflow"
SERVICE_NAME = "stratoflow"
RUN_METRICS = ("RunsCreated", "ZombiesKilled", "RunsResurrected")
FIVE_MINUTES = Duration.minutes(5)


@dataclass(frozen=True)
class Watched:
    """Everything the dashboard and alarms look at."""

    apis: Mapping[str, apigw.HttpApi]
    functions: Mapping[str, lambda_.IFunction]
    queues: Mapping[str, sqs.IQueue]
    table: dynamodb.ITable
    state_machines: Mapping[str, sfn.IStateMachine]
    """The launcher state machines, by infrastructure (`ecs`, `kubernetes`, ...)."""
    stream_function: lambda_.IFunction
    runner: lambda_.IFunction | None = None
    """The `--infra lambda` runner, when on (it is also in `functions`)."""


def alarm_key_statement(stack: Stack) -> iam.PolicyStatement:
    """CloudWatch may use the alarm topic's key only for alarms of this account and region.

    Without the source conditions, CloudWatch acting for an alarm in any account could use the
    key (the confused-deputy case). The alarms are not named (their ARNs are only known after
    the key, which the topic and so the alarms depend on), hence `alarm:*` of this account.
    """
    alarms = stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name="*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    return iam.PolicyStatement(
        actions=["kms:Decrypt", "kms:GenerateDataKey*"],
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        resources=["*"],
        conditions={
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": alarms},
        },
    )


def _sum(metric: cw.Metric) -> cw.Metric:
    return metric.with_(statistic="Sum", period=FIVE_MINUTES)


def run_metric(name: str) -> cw.Metric:
    """One of the Towel services' custom metrics (powertools' `service` dimension)."""
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME},
        statistic="Sum",
        period=FIVE_MINUTES,
    )


def _table_metric(table: dynamodb.ITable, name: str) -> cw.Metric:
    return cw.Metric(
        namespace="AWS/DynamoDB",
        metric_name=name,
        dimensions_map={"TableName": table.table_name},
        statistic="Sum",
        period=FIVE_MINUTES,
    )


class Monitoring(Construct):
    """The dashboard, the alarm topic and the alarms.

    Attributes:
        topic: where alarms are sent.
        dashboard: the CloudWatch dashboard.
        alarms: every alarm, by construct id.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        watched: Watched,
        alarm_topic: sns.ITopic | None,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = alarm_topic or self._topic()
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: dict[str, cw.Alarm] = {}
        self._alarm_on(watched)
        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(*self._widgets(watched))
        for infra, machine in watched.state_machines.items():
            self.dashboard.add_widgets(_launcher_row(infra, machine))

    def _topic(self) -> sns.Topic:
        key = kms.Key(self, "AlarmKey", enable_key_rotation=True, description="Stratoflow alarms")
        key.add_to_resource_policy(alarm_key_statement(Stack.of(self)))
        return sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)

    def _alarm(
        self, construct_id: str, metric: cw.IMetric, threshold: float, periods: int = 1
    ) -> None:
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms[construct_id] = alarm

    def _alarm_on(self, watched: Watched) -> None:
        for name, api in watched.apis.items():
            self._alarm(f"{name}ServerErrors", _sum(api.metric_server_error()), 5)
        for name, function in watched.functions.items():
            # A Towel tick that fails once is retried by the next; 15 failing minutes page.
            self._alarm(f"{name}Errors", _sum(function.metric_errors()), 1, periods=3)
        for name, queue in watched.queues.items():
            self._alarm(
                f"{name}DeadLetters", queue.metric_approximate_number_of_messages_visible(), 1
            )
        for kind in ("ReadThrottleEvents", "WriteThrottleEvents"):
            self._alarm(f"Table{kind}", _table_metric(watched.table, kind), 10)
        iterator_age = watched.stream_function.metric(
            "IteratorAge", statistic="Maximum", period=FIVE_MINUTES
        )
        self._alarm("StateEventsIteratorAge", iterator_age, 300_000)
        for infra, machine in watched.state_machines.items():
            name = f"{infra.capitalize()}Launcher"
            self._alarm(f"{name}Failed", _sum(machine.metric_failed()), 3)
            # A timed-out launch left a run without a settle; throttling delays every launch.
            self._alarm(f"{name}TimedOut", _sum(machine.metric_timed_out()), 1)
            self._alarm(f"{name}Throttled", _sum(machine.metric_throttled()), 1)
        if watched.runner is not None:
            self._alarm("LambdaRunnerThrottles", _sum(watched.runner.metric_throttles()), 1)

    def _widgets(self, watched: Watched) -> list[cw.IWidget]:
        apis = watched.apis.values()
        functions = watched.functions.values()
        return [
            _graph("API requests", [_sum(api.metric_count()) for api in apis]),
            _graph(
                "API latency p50 / p99",
                [api.metric_latency(statistic=stat) for api in apis for stat in ("p50", "p99")],
            ),
            _graph(
                "API 4xx / 5xx",
                [
                    _sum(m)
                    for api in apis
                    for m in (api.metric_client_error(), api.metric_server_error())
                ],
            ),
            _graph("Lambda errors", [_sum(f.metric_errors()) for f in functions]),
            _graph("Lambda throttles", [_sum(f.metric_throttles()) for f in functions]),
            _graph("Lambda duration p99", [f.metric_duration(statistic="p99") for f in functions]),
            _graph(
                "DynamoDB consumed capacity",
                [
                    _table_metric(watched.table, "ConsumedReadCapacityUnits"),
                    _table_metric(watched.table, "ConsumedWriteCapacityUnits"),
                ],
            ),
            _graph(
                "DynamoDB throttles",
                [
                    _table_metric(watched.table, k)
                    for k in ("ReadThrottleEvents", "WriteThrottleEvents")
                ],
            ),
            _graph(
                "Runs created / zombies killed / runs resurrected",
                [run_metric(n) for n in RUN_METRICS],
            ),
            _graph(
                "State-machine executions failed",
                [_sum(m.metric_failed()) for m in watched.state_machines.values()],
            ),
        ]


def _launcher_row(infra: str, machine: sfn.IStateMachine) -> cw.Row:
    """One launcher: executions by outcome, and how long they take."""
    outcomes = (
        machine.metric_started(),
        machine.metric_succeeded(),
        machine.metric_failed(),
        machine.metric_timed_out(),
        machine.metric_aborted(),
        machine.metric_throttled(),
    )
    return cw.Row(
        _graph(f"{infra} launcher executions", [_sum(m) for m in outcomes]),
        _graph(
            f"{infra} launcher execution time p50 / p99",
            [machine.metric_time(statistic=stat) for stat in ("p50", "p99")],
        ),
    )


def _graph(title: str, metrics: Sequence[cw.IMetric]) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=list(metrics), width=12, height=6)
