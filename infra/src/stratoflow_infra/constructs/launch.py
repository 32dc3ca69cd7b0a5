"""Launch plumbing: the ECS/Fargate launcher state machine, its role, log group and cluster.

The dispatcher (scheduler) and `POST /deployments/{id}/runs` start one execution per flow run,
named by the run id, with input `{"flow_run_id", "task_definition_arn", "overrides"}` (the
overrides come from the pure ECS spec builder shared with the pull agent). The machine runs
the task with `ecs:runTask.sync` in the configured subnets and waits for it to stop.

The role may run task definitions only in this cluster, stop and describe only this cluster's
tasks, manage only the managed EventBridge rule that `.sync` needs, and pass only roles named
`stratoflow-*` and only to ECS tasks.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stratoflow_infra.constructs.props import FargateProps
from stratoflow_infra.nag import acknowledge, wildcard_finding

ECS_SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"
TASK_ROLE_PREFIX = "stratoflow-"
"""Task and execution roles of flow-run task definitions must be named with this prefix."""


def ecs_launcher_definition(
    cluster_arn: str, subnet_ids: list[str], security_group_id: str, assign_public_ip: bool
) -> dict[str, Any]:
    """The ASL of the ECS launcher: run the task and wait, retrying capacity errors.

    Args:
        cluster_arn: the cluster to run in.
        subnet_ids: the subnets for the task's ENI.
        security_group_id: the tasks' security group (egress only).
        assign_public_ip: whether tasks get a public IP.
    """
    run_task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::ecs:runTask.sync",
        "Parameters": {
            "Cluster": cluster_arn,
            "LaunchType": "FARGATE",
            "TaskDefinition.$": "$.task_definition_arn",
            "Overrides.$": "$.overrides",
            "StartedBy.$": "States.Format('stratoflow/{}', $.flow_run_id)",
            "PropagateTags": "TASK_DEFINITION",
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {
                    "Subnets": subnet_ids,
                    "SecurityGroups": [security_group_id],
                    "AssignPublicIp": "ENABLED" if assign_public_ip else "DISABLED",
                }
            },
        },
        "Retry": [
            {
                "ErrorEquals": ["ECS.AmazonECSException", "ECS.ServerException"],
                "IntervalSeconds": 10,
                "MaxAttempts": 3,
                "BackoffRate": 2,
            }
        ],
        "End": True,
    }
    return {
        "Comment": "Stratoflow ECS/Fargate launcher",
        "StartAt": "RunTask",
        "States": {"RunTask": run_task},
    }


class Launch(Construct):
    """The launcher state machines (today: ECS/Fargate) and what they need.

    Attributes:
        state_machines: every launcher state machine (empty without Fargate props).
        cluster_arn: the ECS cluster flow runs launch into, when there is one.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        fargate: FargateProps | None,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.state_machines: list[sfn.StateMachine] = []
        self.cluster_arn: str | None = None
        if fargate is None:
            return
        cluster = self._cluster(fargate)
        self.cluster_arn = cluster[0]
        log_group = logs.LogGroup(
            self, "LauncherLogs", retention=log_retention, removal_policy=removal_policy
        )
        self.state_machines.append(self._ecs_launcher(fargate, cluster, log_group))

    def _cluster(self, fargate: FargateProps) -> tuple[str, str]:
        """The cluster's ARN and name: a new cluster, or the one named in the props."""
        if not fargate.create_cluster:
            if fargate.cluster_arn is None:
                raise ValueError("FargateProps: cluster_arn is required when create_cluster=False")
            return fargate.cluster_arn, fargate.cluster_arn.rsplit("/", 1)[-1]
        cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=fargate.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        return cluster.cluster_arn, cluster.cluster_name

    def _ecs_launcher(
        self, fargate: FargateProps, cluster: tuple[str, str], log_group: logs.LogGroup
    ) -> sfn.StateMachine:
        security_group = ec2.SecurityGroup(
            self,
            "TaskSecurityGroup",
            vpc=fargate.vpc,
            description="Stratoflow flow-run tasks: egress only",
            allow_all_outbound=True,
        )
        subnets = fargate.vpc.select_subnets(**_selection_kwargs(fargate.subnets)).subnet_ids
        definition = ecs_launcher_definition(
            cluster[0], subnets, security_group.security_group_id, fargate.assign_public_ip
        )
        role = iam.Role(
            self, "EcsLauncherRole", assumed_by=iam.ServicePrincipal("states.amazonaws.com")
        )
        self._grant_ecs(role, *cluster)
        return sfn.StateMachine(
            self,
            "EcsLauncher",
            definition_body=sfn.DefinitionBody.from_string(
                Stack.of(self).to_json_string(definition)
            ),
            role=role,
            timeout=Duration.days(2),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
        )

    def _grant_ecs(self, role: iam.Role, cluster_arn: str, cluster_name: str) -> None:
        stack = Stack.of(self)
        in_cluster = {"ArnEquals": {"ecs:cluster": cluster_arn}}
        task_definitions = stack.format_arn(
            service="ecs", resource="task-definition", resource_name="*"
        )
        tasks = stack.format_arn(service="ecs", resource="task", resource_name=f"{cluster_name}/*")
        sync_rule = stack.format_arn(service="events", resource="rule", resource_name=ECS_SYNC_RULE)
        task_roles = stack.format_arn(
            service="iam", region="", resource="role", resource_name=f"{TASK_ROLE_PREFIX}*"
        )
        passed_to_ecs = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
        for actions, resource, conditions in (
            (["ecs:RunTask"], task_definitions, in_cluster),
            (["ecs:StopTask", "ecs:DescribeTasks"], tasks, in_cluster),
            (["events:PutTargets", "events:PutRule", "events:DescribeRule"], sync_rule, None),
            (["iam:PassRole"], task_roles, passed_to_ecs),
        ):
            role.add_to_policy(
                iam.PolicyStatement(actions=actions, resources=[resource], conditions=conditions)
            )
        for resource, reason in (
            (
                task_definitions,
                "Each deployment brings its own task definition; RunTask is "
                "confined to this cluster by the ecs:cluster condition.",
            ),
            (tasks, "Task ids are only known at run time; the grant covers this cluster's tasks."),
            (
                task_roles,
                "Flow-run task roles are per deployment; PassRole is limited to the "
                "stratoflow- prefix and to ecs-tasks.amazonaws.com.",
            ),
        ):
            acknowledge(role, wildcard_finding(role, resource), reason)
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:*LogDelivery, DescribeLogGroups, ...) and X-Ray "
            "PutTraceSegments support no resource-level permissions.",
        )


def _selection_kwargs(selection: ec2.SubnetSelection) -> dict[str, Any]:
    """`select_subnets` takes the selection's fields as keywords in Python."""
    fields = (
        "availability_zones",
        "one_per_az",
        "subnet_filters",
        "subnet_group_name",
        "subnets",
        "subnet_type",
    )
    return {
        name: getattr(selection, name) for name in fields if getattr(selection, name) is not None
    }
