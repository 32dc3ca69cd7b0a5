"""The ECS/Fargate side of the launchers: cluster, task security group, flow-run roles and logs.

`EcsTarget` is what the ECS launcher launches into; `Launch` (constructs/launch.py) builds it
only when `FargateProps` are given. It grants, scoped to this cluster and these two roles:

* the state machine (`ecs:runTask.sync`): RunTask of `stratoflow-*` task definitions in this
  cluster only, Stop/DescribeTasks and TagResource on this cluster's tasks, the managed
  EventBridge rule `.sync` needs, and PassRole of the two flow-run roles to ECS tasks only;
* the launcher Lambda (registers each task definition once per content hash):
  Describe/RegisterTaskDefinition (no resource-level permissions exist for either) and PassRole
  of the same two roles;
* a dispatcher that cancels: StopTask in this cluster.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stratoflow_infra.constructs.props import FargateProps
from stratoflow_infra.nag import acknowledge, wildcard_finding

ECS_SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"
TASK_ROLE_PREFIX = "stratoflow-"
"""Names of the flow-run task and execution roles start so (the issue's naming contract)."""
TASK_DEFINITION_FAMILY = "stratoflow-*"
"""The launcher registers every task definition under a `stratoflow-<hash>` family."""
ECS_TASKS = "ecs-tasks.amazonaws.com"


class EcsTarget(Construct):
    """Where ECS flow runs go, and the roles and logs they run with.

    Attributes:
        cluster_arn: the cluster runs launch into.
        cluster_name: its name (task ARNs carry it).
        subnet_ids: the subnets of the tasks' ENIs.
        security_group: the tasks' security group (egress only).
        execution_role: pulls the image, writes the logs, reads the API-key secret.
        task_role: the flow's own AWS identity.
        log_group: where the flow-run containers log.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        fargate: FargateProps,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        api_key_secret_arn: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._fargate = fargate
        self.cluster_arn, self.cluster_name = self._cluster(fargate)
        self.security_group = ec2.SecurityGroup(
            self,
            "TaskSecurityGroup",
            vpc=fargate.vpc,
            description="Stratoflow flow-run tasks: egress only",
            allow_all_outbound=True,
        )
        self.subnet_ids = fargate.vpc.select_subnets(
            **_selection_kwargs(fargate.subnets)
        ).subnet_ids
        self.log_group = logs.LogGroup(
            self, "FlowRunLogs", retention=log_retention, removal_policy=removal_policy
        )
        self.execution_role = self._execution_role(api_key_secret_arn)
        self.task_role = self._role("TaskRole", "task")

    @property
    def assign_public_ip(self) -> bool:
        """Whether tasks get a public IP."""
        return self._fargate.assign_public_ip

    def environment(self) -> dict[str, str]:
        """What the ECS launcher Lambda reads to build the task definition and RunTask."""
        return {
            "STRATOFLOW_ECS_CLUSTER_ARN": self.cluster_arn,
            "STRATOFLOW_ECS_SUBNETS": ",".join(self.subnet_ids),
            "STRATOFLOW_ECS_SECURITY_GROUPS": self.security_group.security_group_id,
            "STRATOFLOW_ECS_ASSIGN_PUBLIC_IP": "true" if self.assign_public_ip else "false",
            "STRATOFLOW_ECS_EXECUTION_ROLE_ARN": self.execution_role.role_arn,
            "STRATOFLOW_ECS_TASK_ROLE_ARN": self.task_role.role_arn,
            "STRATOFLOW_ECS_LOG_GROUP": self.log_group.log_group_name,
        }

    def _cluster(self, fargate: FargateProps) -> tuple[str, str]:
        """The cluster's ARN and name: a new cluster, or the one named in the props."""
        if not fargate.create_cluster:
            if fargate.cluster_arn is None:
                raise ValueError("FargateProps: cluster_arn is required when create_cluster=False")
            return fargate.cluster_arn, fargate.cluster_arn.rsplit("/", 1)[-1]
        cluster = ecs.Cluster(
            self, "Cluster", vpc=fargate.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        return cluster.cluster_arn, cluster.cluster_name

    def _role(self, construct_id: str, suffix: str) -> iam.Role:
        stack = Stack.of(self)
        # IAM is global: the stack name and region keep two stacks' roles apart.
        name = f"{TASK_ROLE_PREFIX}{stack.stack_name[:24]}-{stack.region}-{suffix}"
        principal = iam.ServicePrincipal(ECS_TASKS).with_conditions(
            {"StringEquals": {"aws:SourceAccount": stack.account}}
        )
        return iam.Role(self, construct_id, role_name=name, assumed_by=principal)

    def _execution_role(self, api_key_secret_arn: str | None) -> iam.Role:
        role = self._role("ExecutionRole", "exec")
        stack = Stack.of(self)
        repositories = stack.format_arn(service="ecr", resource="repository", resource_name="*")
        streams = f"{self.log_group.log_group_arn}:*"
        grants: list[tuple[list[str], list[str]]] = [
            (["ecr:GetAuthorizationToken"], ["*"]),
            (
                [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                [repositories],
            ),
            (
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [self.log_group.log_group_arn, streams],
            ),
        ]
        if api_key_secret_arn:
            grants.append((["secretsmanager:GetSecretValue"], [api_key_secret_arn]))
        for actions, resources in grants:
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        for resource, reason in (
            ("*", "ecr:GetAuthorizationToken supports no resource-level permissions."),
            (repositories, "A deployment's image may live in any ECR repository of this account."),
            (streams, "Each task writes its own log stream, inside the flow-run log group only."),
        ):
            acknowledge(role, wildcard_finding(role, resource), reason)
        return role

    def pass_roles(self, grantee: iam.IGrantable) -> None:
        """Let `grantee` pass exactly the two flow-run roles, and only to ECS tasks."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.execution_role.role_arn, self.task_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": ECS_TASKS}},
            )
        )

    def task_arns(self) -> str:
        """Every task of this cluster (task ids are known only at run time)."""
        return Stack.of(self).format_arn(
            service="ecs", resource="task", resource_name=f"{self.cluster_name}/*"
        )

    def grant_stop(self, role: iam.IRole) -> None:
        """StopTask on this cluster's tasks (cancellation)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:StopTask"],
                resources=[self.task_arns()],
                conditions={"ArnEquals": {"ecs:cluster": self.cluster_arn}},
            )
        )
        acknowledge(role, wildcard_finding(role, self.task_arns()), _TASKS_REASON)

    def grant_register(self, role: iam.IRole) -> None:
        """What the launcher Lambda needs to register task definitions once and pass roles."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
                resources=["*"],
            )
        )
        self.pass_roles(role)

    def grant_run(self, role: iam.IRole) -> None:
        """What `ecs:runTask.sync` needs, in this cluster and for these roles only."""
        stack = Stack.of(self)
        in_cluster = {"ArnEquals": {"ecs:cluster": self.cluster_arn}}
        task_definitions = stack.format_arn(
            service="ecs", resource="task-definition", resource_name=f"{TASK_DEFINITION_FAMILY}:*"
        )
        sync_rule = stack.format_arn(service="events", resource="rule", resource_name=ECS_SYNC_RULE)
        tagging = {"StringEquals": {"ecs:CreateAction": "RunTask"}}
        for actions, resource, conditions in (
            (["ecs:RunTask"], task_definitions, in_cluster),
            (["ecs:StopTask", "ecs:DescribeTasks"], self.task_arns(), in_cluster),
            (["ecs:TagResource"], self.task_arns(), tagging),
            (["events:PutTargets", "events:PutRule", "events:DescribeRule"], sync_rule, None),
        ):
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=[resource], conditions=conditions)
            )
        self.pass_roles(role)
        acknowledge(
            role,
            wildcard_finding(role, task_definitions),
            "Task definitions are registered per content hash under the stratoflow- family "
            "prefix; RunTask is confined to this cluster by the ecs:cluster condition.",
        )
        acknowledge(role, wildcard_finding(role, self.task_arns()), _TASKS_REASON)


_TASKS_REASON = "Task ids are only known at run time; the grant covers this cluster's tasks."
REGISTER_REASON = (
    "ecs:DescribeTaskDefinition and ecs:RegisterTaskDefinition support no resource-level "
    "permissions; the launcher registers only stratoflow-<content hash> families and may "
    "pass only the two flow-run roles."
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
