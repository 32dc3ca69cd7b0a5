"""Push launches: one Step Functions Standard state machine per infrastructure that is turned on.

Each launcher is a state machine built from its committed ASL file
(`functions/src/stratoflow_functions/launchers/definitions/<infra>.asl.json`, read by path:
infra imports nothing of functions) with the CDK definition substitutions
`${LauncherFunctionArn}` (and `${RunnerFunctionArn}` for lambda), plus its launcher Lambda
(`handlers/launcher.py`, one code; `STRATOFLOW_LAUNCHER_INFRASTRUCTURE` says which). The
dispatchers (the scheduler and the API) start one execution per due run; the API also stops
them on cancel.

Nothing is built for a launcher that is off: no state machine, role, Lambda or log group, and
the ECS cluster, task roles and VPC exist only with Fargate on. Every state machine may invoke
only its own launcher (and, for lambda, the runner); everything else is in `launch_ecs.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stratoflow_infra import bundle
from stratoflow_infra.constructs.functions import FunctionSpec, LambdaFactory
from stratoflow_infra.constructs.launch_ecs import REGISTER_REASON, EcsTarget
from stratoflow_infra.constructs.props import StratoflowProps
from stratoflow_infra.nag import acknowledge, wildcard_finding

DEFINITIONS_DIR = bundle.ROOT / "functions/src/stratoflow_functions/launchers/definitions"
"""Where the committed ASL files live in the repository checkout."""
CONTAINER_TIMEOUT = Duration.days(2)
"""How long an ECS, Kubernetes or Vertex launch may run, claim wait included."""
LAMBDA_MACHINE_TIMEOUT = Duration.days(1)
"""The Lambda launcher's bound: the runner stops at 15 minutes; the rest is waiting for a slot."""
MACHINE_LOGS_REASON = (
    "Step Functions log delivery (logs:*LogDelivery, DescribeLogGroups, ...) and X-Ray "
    "PutTraceSegments support no resource-level permissions."
)


@dataclass(frozen=True)
class Launcher:
    """One infrastructure's launcher.

    Attributes:
        infrastructure: `ecs`, `kubernetes`, `vertex` or `lambda`.
        state_machine: the Standard state machine the dispatchers start.
        function: its launcher Lambda (claim, prepare/launch, status, settle).
    """

    infrastructure: str
    state_machine: sfn.StateMachine
    function: lambda_.Function

    @property
    def env_name(self) -> str:
        """The setting through which the dispatchers learn this machine's ARN."""
        return f"STRATOFLOW_{self.infrastructure.upper()}_LAUNCHER_ARN"


@dataclass(frozen=True)
class LaunchContext:
    """What the launchers are wired to: the factory, the table, the code bucket, the APIs."""

    factory: LambdaFactory
    table: dynamodb.ITable
    code_bucket: s3.IBucket
    key_api: apigw.HttpApi
    iam_api: apigw.HttpApi
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy


class Launch(Construct):
    """The launchers that are turned on, and what they launch with.

    Attributes:
        launchers: by infrastructure, only those turned on.
        ecs: the cluster, roles and logs of ECS runs (None without Fargate).
        runner: the runner Lambda of `--infra lambda` (None when off).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, props: StratoflowProps, ctx: LaunchContext
    ) -> None:
        super().__init__(scope, construct_id)
        self._props, self._ctx = props, ctx
        self._definitions = Path(props.definitions_path or DEFINITIONS_DIR)
        self._log_group: logs.LogGroup | None = None
        self.launchers: dict[str, Launcher] = {}
        self.ecs: EcsTarget | None = None
        self.runner: lambda_.Function | None = None
        if props.fargate is not None:
            self._ecs_launcher()
        if props.kubernetes is not None:
            secret = props.kubernetes.kubeconfig_secret_arn
            self._secret_launcher("kubernetes", "STRATOFLOW_KUBERNETES_KUBECONFIG_SECRET", secret)
        if props.vertex is not None:
            self._vertex_launcher()
        if props.lambda_runner is not None:
            self._lambda_launcher()
        for launcher in self.launchers.values():
            CfnOutput(self, f"{_title(launcher.infrastructure)}LauncherArn",
                      value=launcher.state_machine.state_machine_arn)  # fmt: skip

    @property
    def state_machines(self) -> dict[str, sfn.StateMachine]:
        """Every launcher state machine, by infrastructure."""
        return {name: launcher.state_machine for name, launcher in self.launchers.items()}

    def grant_dispatch(self, function: lambda_.Function, *, cancel: bool) -> None:
        """Let `function` start executions of exactly these machines (and, with `cancel`,
        stop their executions and this cluster's tasks), and tell it their ARNs."""
        assert function.role is not None
        for launcher in self.launchers.values():
            machine = launcher.state_machine
            function.add_environment(launcher.env_name, machine.state_machine_arn)
            machine.grant_start_execution(function)
            if cancel:
                self._grant_stop_execution(function.role, machine)
        if cancel and self.ecs is not None:
            function.add_environment("STRATOFLOW_ECS_CLUSTER_ARN", self.ecs.cluster_arn)
            self.ecs.grant_stop(function.role)

    def _grant_stop_execution(self, role: iam.IRole, machine: sfn.StateMachine) -> None:
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:StopExecution"], resources=[executions])
        )
        acknowledge(
            role,
            wildcard_finding(role, executions),
            "Execution names are flow-run ids, known only at run time; the grant covers this "
            "one launcher's executions.",
        )

    def _ecs_launcher(self) -> None:
        fargate = self._props.fargate
        assert fargate is not None
        secret = self._props.launch_api_key_secret_arn
        self.ecs = EcsTarget(
            self, "Ecs", fargate=fargate, log_retention=self._ctx.log_retention,
            removal_policy=self._ctx.removal_policy, api_key_secret_arn=secret,
        )  # fmt: skip
        function = self._function("ecs", self.ecs.environment(), unscoped=(REGISTER_REASON,))
        assert function.role is not None
        self.ecs.grant_register(function.role)
        if secret is None:  # with a secret, the execution role injects the key instead
            self._grant_api(self.ecs.task_role)
        _grant_read_code(self._ctx.code_bucket, self.ecs.task_role)
        machine = self._machine("ecs", function, (), CONTAINER_TIMEOUT)
        assert machine.role is not None
        self.ecs.grant_run(machine.role)

    def _secret_launcher(
        self,
        infra: str,
        secret_env: str,
        secret_arn: str,
        extra: dict[str, str] | None = None,
        layers: tuple[lambda_.ILayerVersion, ...] = (),
    ) -> None:
        """A poll-loop launcher (kubernetes, vertex) whose Lambda reads exactly one secret."""
        environment = {secret_env: secret_arn, **(extra or {})}
        function = self._function(infra, environment, uses_key=True, layers=layers)
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secret_arn])
        )
        self._machine(infra, function, (), CONTAINER_TIMEOUT)

    def _vertex_launcher(self) -> None:
        vertex = self._props.vertex
        assert vertex is not None
        extra = {
            "STRATOFLOW_VERTEX_PROJECT": vertex.project,
            "STRATOFLOW_VERTEX_REGION": vertex.region,
        }
        # google-auth (and cryptography under it) comes in a layer on this function alone.
        self._secret_launcher(
            "vertex", "STRATOFLOW_VERTEX_CREDENTIALS_SECRET", vertex.credentials_secret_arn, extra,
            layers=(self._ctx.factory.vertex_layer(),),
        )  # fmt: skip

    def _lambda_launcher(self) -> None:
        runner_props = self._props.lambda_runner
        assert runner_props is not None
        self.runner = self._ctx.factory.create(
            FunctionSpec(
                construct_id="LambdaRunnerFunction",
                module="runner",
                description="Stratoflow runner: runs one flow run of an --infra lambda deployment.",
                timeout=runner_props.timeout,
                memory_mb=runner_props.memory_mb,
                environment=self._api_environment(uses_key=False),
            )
        )
        assert self.runner.role is not None
        self._grant_api(self.runner.role)
        _grant_read_code(self._ctx.code_bucket, self.runner.role)
        function = self._function("lambda", {})
        self._machine("lambda", function, (self.runner,), LAMBDA_MACHINE_TIMEOUT)

    def _api_environment(self, *, uses_key: bool) -> dict[str, str]:
        """The API URL launched runs report to (and the key's secret, when they use one).

        Runs outside AWS (`uses_key`) and runs given the stack's API-key secret call the key
        API; ECS tasks and the runner without it call the IAM API with their role (SigV4).
        """
        secret = self._props.launch_api_key_secret_arn
        keyed = uses_key or secret is not None
        api = self._ctx.key_api if keyed else self._ctx.iam_api
        environment = {"STRATOFLOW_LAUNCH_API_URL": api.api_endpoint}
        if secret is not None:
            environment["STRATOFLOW_LAUNCH_API_KEY_SECRET"] = secret
        return environment

    def _grant_api(self, role: iam.IRole) -> None:
        """A run's identity for the API: the key's secret if given, else SigV4 on the IAM API."""
        secret = self._props.launch_api_key_secret_arn
        if secret is not None:
            statement = iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[secret]
            )
            role.add_to_principal_policy(statement)
            return
        invoke = Stack.of(self).format_arn(
            service="execute-api", resource=self._ctx.iam_api.api_id, resource_name="*"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["execute-api:Invoke"], resources=[invoke])
        )
        acknowledge(
            role,
            wildcard_finding(role, invoke),
            "A flow run calls any route of the IAM API as itself; the grant is this one API.",
        )

    def _function(
        self,
        infra: str,
        environment: dict[str, str],
        *,
        uses_key: bool = False,
        unscoped: tuple[str, ...] = (),
        layers: tuple[lambda_.ILayerVersion, ...] = (),
    ) -> lambda_.Function:
        """The launcher Lambda of `infra`: the table (claim, record, settle) and its settings."""
        function = self._ctx.factory.create(
            FunctionSpec(
                construct_id=f"{_title(infra)}LauncherFunction",
                module="launcher",
                description=f"Stratoflow {infra} launcher steps (claim, launch, status, settle).",
                timeout=Duration.seconds(60),
                memory_mb=512,
                unscoped=unscoped,
                layers=layers,
                environment={
                    "STRATOFLOW_LAUNCHER_INFRASTRUCTURE": infra,
                    **self._api_environment(uses_key=uses_key),
                    **environment,
                },
            )
        )
        table = self._ctx.table
        table.grant_read_write_data(function)
        assert function.role is not None
        indexes = f"{table.table_arn}/index/*"
        acknowledge(
            function.role,
            wildcard_finding(table, indexes),
            "The claim counts slots through the table's GSIs (gsi1..gsi5).",
        )
        return function

    def _machine(
        self,
        infra: str,
        function: lambda_.Function,
        extra: tuple[lambda_.Function, ...],
        timeout: Duration,
    ) -> sfn.StateMachine:
        title = _title(infra)
        role = iam.Role(
            self, f"{title}LauncherRole", assumed_by=iam.ServicePrincipal("states.amazonaws.com")
        )
        for invoked in (function, *extra):
            _grant_invoke(role, invoked)
        substitutions = {"LauncherFunctionArn": function.function_arn}
        if extra:
            substitutions["RunnerFunctionArn"] = extra[0].function_arn
        # Inline, not DefinitionBody.from_file (an S3 asset): the definition stays in the
        # template, where cfn-lint validates it and a `cdk diff` shows it. The bound goes
        # into the ASL itself: CDK drops `timeout` for a definition given as a string.
        definition = json.loads((self._definitions / f"{infra}.asl.json").read_text())
        definition["TimeoutSeconds"] = int(timeout.to_seconds())
        machine = sfn.StateMachine(
            self,
            f"{title}Launcher",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition, indent=1)),
            definition_substitutions=substitutions,
            role=role,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self._machine_logs(), level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
        )  # fmt: skip
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", MACHINE_LOGS_REASON)
        self.launchers[infra] = Launcher(infra, machine, function)
        return machine

    def _machine_logs(self) -> logs.LogGroup:
        """One log group for every launcher's execution history, made with the first."""
        if self._log_group is None:
            self._log_group = logs.LogGroup(
                self, "LauncherLogs", retention=self._ctx.log_retention,
                removal_policy=self._ctx.removal_policy,
            )  # fmt: skip
        return self._log_group


def _title(infra: str) -> str:
    return infra.capitalize()


def _grant_invoke(role: iam.Role, function: lambda_.IFunction) -> None:
    """Invoke exactly this function (its versions and aliases included)."""
    versions = f"{function.function_arn}:*"
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[function.function_arn, versions]
        )
    )
    acknowledge(
        role,
        wildcard_finding(role, versions),
        "Qualified ARNs (versions, aliases) of this one function, for lambda:invoke.",
    )


def _grant_read_code(bucket: s3.IBucket, role: iam.IRole) -> None:
    """Download deployment bundles: GetObject in the code bucket, nothing else."""
    objects = bucket.arn_for_objects("*")
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
    acknowledge(
        role,
        wildcard_finding(bucket, objects),
        "Bundle keys are per flow and deployment; reads are confined to the code bucket.",
    )
