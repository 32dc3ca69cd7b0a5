"""The push launchers in the template: what each one deploys, and the least privilege it holds.

Two real synths (cdk-nag on, so each one that returns has no open finding): every launcher on
(the session's `synthesized`), and the Lambda runner alone with an API-key secret (`keyed`).
The all-off case is `test_infra_props.py`'s variant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from infra_synth import (
    ACCOUNT,
    KUBECONFIG_SECRET,
    REGION,
    STUB_CODE,
    VERTEX_SECRET,
    Synthesized,
    synthesize,
)

INFRAS = ("Ecs", "Kubernetes", "Vertex", "Lambda")
API_KEY_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stratoflow-api-key-MnOpQr"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Only the Lambda runner, given the API-key secret, with a 5-minute timeout."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-lambda-only"),
        lambdaRunner="on",
        lambdaRunnerTimeoutSeconds="300",
        launchApiKeySecretArn=API_KEY_SECRET,
    )


def _resources(synthesized: Synthesized, kind: str) -> dict[str, Any]:
    return {
        logical: resource
        for logical, resource in synthesized.template_json["Resources"].items()
        if resource["Type"] == kind
    }


def _one(synthesized: Synthesized, kind: str, prefix: str) -> tuple[str, dict[str, Any]]:
    [(logical, resource)] = [
        (k, r) for k, r in _resources(synthesized, kind).items() if k.startswith(prefix)
    ]
    return logical, resource


def _statements(synthesized: Synthesized, role_logical: str) -> list[dict[str, Any]]:
    statements = []
    for policy in _resources(synthesized, "AWS::IAM::Policy").values():
        if {"Ref": role_logical} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _by_action(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each action's statement (every action appears in exactly one)."""
    found: dict[str, dict[str, Any]] = {}
    for statement in statements:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert action not in found, action
            found[action] = statement
    return found


def _role_of(resource: dict[str, Any]) -> str:
    """The logical id of a function's `Role` or a state machine's `RoleArn`."""
    props = resource["Properties"]
    return str((props.get("Role") or props["RoleArn"])["Fn::GetAtt"][0])


def _function(synthesized: Synthesized, construct: str) -> tuple[str, dict[str, Any]]:
    return _one(synthesized, "AWS::Lambda::Function", f"Stratoflow{construct}Function")


def _machine(synthesized: Synthesized, infra: str) -> tuple[str, dict[str, Any]]:
    return _one(synthesized, "AWS::StepFunctions::StateMachine", f"StratoflowLaunch{infra}Launcher")


def test_each_launcher_is_a_logged_traced_bounded_standard_machine(
    synthesized: Synthesized,
) -> None:
    machines = _resources(synthesized, "AWS::StepFunctions::StateMachine")
    assert len(machines) == 4
    for infra in INFRAS:
        _, machine = _machine(synthesized, infra)
        props = machine["Properties"]
        assert props["StateMachineType"] == "STANDARD"
        assert props["TracingConfiguration"] == {"Enabled": True}
        logging = props["LoggingConfiguration"]
        assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", False)
        definition = json.loads(props["DefinitionString"])
        assert definition["TimeoutSeconds"] > 0
        assert "${LauncherFunctionArn}" in props["DefinitionString"]  # substituted by CFN


def test_each_machine_invokes_only_its_own_launcher_and_the_runner(
    synthesized: Synthesized,
) -> None:
    for infra in INFRAS:
        _, machine = _machine(synthesized, infra)
        launcher, _ = _function(synthesized, f"{infra}Launcher")
        expected = {"LauncherFunctionArn": {"Fn::GetAtt": [launcher, "Arn"]}}
        if infra == "Lambda":
            runner, _ = _function(synthesized, "LambdaRunner")
            expected["RunnerFunctionArn"] = {"Fn::GetAtt": [runner, "Arn"]}
        assert machine["Properties"]["DefinitionSubstitutions"] == expected
        invoke = _by_action(_statements(synthesized, _role_of(machine)))["lambda:InvokeFunction"]
        targets = {part["Fn::GetAtt"][0] for part in _arns_in(invoke["Resource"])}
        assert targets == {arn["Fn::GetAtt"][0] for arn in expected.values()}


def _arns_in(resources: list[Any]) -> list[dict[str, Any]]:
    """The GetAtt Arn of each resource, also inside `Fn::Join` (the `:*` versions)."""
    found = []
    for resource in resources:
        parts = resource["Fn::Join"][1] if "Fn::Join" in resource else [resource]
        found.extend(p for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p)
    return found


def test_ecs_machine_runs_stratoflow_task_definitions_in_its_cluster_and_passes_two_roles(
    synthesized: Synthesized,
) -> None:
    _, machine = _machine(synthesized, "Ecs")
    actions = _by_action(_statements(synthesized, _role_of(machine)))
    cluster, _ = _one(synthesized, "AWS::ECS::Cluster", "StratoflowLaunchEcs")
    in_cluster = {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": [cluster, "Arn"]}}}
    for action in ("ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks"):
        assert actions[action]["Condition"] == in_cluster, action
    assert ":task-definition/stratoflow-*:*" in json.dumps(actions["ecs:RunTask"]["Resource"])
    assert actions["ecs:TagResource"]["Condition"] == {
        "StringEquals": {"ecs:CreateAction": "RunTask"}
    }
    assert set(actions) == {
        "lambda:InvokeFunction", "ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks",
        "ecs:TagResource", "events:PutTargets", "events:PutRule", "events:DescribeRule",
        "iam:PassRole", *_delivery_and_tracing(),
    }  # fmt: skip
    _assert_passes_exactly_the_flow_run_roles(synthesized, actions["iam:PassRole"])


def _delivery_and_tracing() -> set[str]:
    """What CDK grants a logged, traced state machine on `*` (no resource-level permissions)."""
    return {
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }  # fmt: skip


def _flow_run_roles(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    roles = _resources(synthesized, "AWS::IAM::Role")
    prefixes = ("StratoflowLaunchEcsExecutionRole", "StratoflowLaunchEcsTaskRole")
    return {k: r for k, r in roles.items() if k.startswith(prefixes)}


def _assert_passes_exactly_the_flow_run_roles(
    synthesized: Synthesized, statement: dict[str, Any]
) -> None:
    roles = _flow_run_roles(synthesized)
    assert sorted(r["Fn::GetAtt"][0] for r in statement["Resource"]) == sorted(roles)
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


def test_flow_run_roles_are_named_stratoflow_and_the_execution_role_pulls_and_logs(
    synthesized: Synthesized,
) -> None:
    roles = _flow_run_roles(synthesized)
    assert len(roles) == 2
    for role in roles.values():
        assert "stratoflow-" in json.dumps(role["Properties"]["RoleName"])
    [execution] = [k for k in roles if "ExecutionRole" in k]
    actions = _by_action(_statements(synthesized, execution))
    assert set(actions) == {
        "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
        "logs:CreateLogStream", "logs:PutLogEvents",
    }  # fmt: skip
    logs, _ = _one(synthesized, "AWS::Logs::LogGroup", "StratoflowLaunchEcsFlowRunLogs")
    assert {"Fn::GetAtt": [logs, "Arn"]} in actions["logs:PutLogEvents"]["Resource"]


def test_ecs_launcher_registers_task_definitions_passes_two_roles_and_gets_its_settings(
    synthesized: Synthesized,
) -> None:
    _, function = _function(synthesized, "EcsLauncher")
    actions = _by_action(_statements(synthesized, _role_of(function)))
    assert actions["ecs:RegisterTaskDefinition"]["Resource"] == "*"
    assert "ecs:RegisterTaskDefinition" in actions["ecs:DescribeTaskDefinition"]["Action"]
    assert not {"ecs:RunTask", "ecs:StopTask", "secretsmanager:GetSecretValue"} & set(actions)
    _assert_passes_exactly_the_flow_run_roles(synthesized, actions["iam:PassRole"])
    env = function["Properties"]["Environment"]["Variables"]
    assert env["STRATOFLOW_LAUNCHER_INFRASTRUCTURE"] == "ecs"
    assert env["STRATOFLOW_ECS_ASSIGN_PUBLIC_IP"] == "true"
    for name in (
        "CLUSTER_ARN", "SUBNETS", "SECURITY_GROUPS", "EXECUTION_ROLE_ARN", "TASK_ROLE_ARN",
        "LOG_GROUP",
    ):  # fmt: skip
        assert f"STRATOFLOW_ECS_{name}" in env, name
    assert "IamApi" in json.dumps(env["STRATOFLOW_LAUNCH_API_URL"])  # SigV4: no key secret


@pytest.mark.parametrize(
    ("infra", "env_name", "secret"),
    [
        ("Kubernetes", "STRATOFLOW_KUBERNETES_KUBECONFIG_SECRET", KUBECONFIG_SECRET),
        ("Vertex", "STRATOFLOW_VERTEX_CREDENTIALS_SECRET", VERTEX_SECRET),
    ],
)
def test_poll_launchers_read_only_their_own_secret_and_call_the_key_api(
    synthesized: Synthesized, infra: str, env_name: str, secret: str
) -> None:
    _, function = _function(synthesized, f"{infra}Launcher")
    actions = _by_action(_statements(synthesized, _role_of(function)))
    assert actions["secretsmanager:GetSecretValue"]["Resource"] == secret
    assert not [a for a in actions if a.startswith(("ecs:", "iam:", "states:", "s3:"))]
    env = function["Properties"]["Environment"]["Variables"]
    assert env["STRATOFLOW_LAUNCHER_INFRASTRUCTURE"] == infra.lower()
    assert env[env_name] == secret
    assert "KeyApi" in json.dumps(env["STRATOFLOW_LAUNCH_API_URL"])
    if infra == "Vertex":
        assert (env["STRATOFLOW_VERTEX_PROJECT"], env["STRATOFLOW_VERTEX_REGION"]) == (
            "my-gcp-project",
            "us-central1",
        )


def test_runner_reads_code_and_calls_the_iam_api_with_its_role(synthesized: Synthesized) -> None:
    _, runner = _function(synthesized, "LambdaRunner")
    assert runner["Properties"]["Timeout"] == 900
    assert runner["Properties"]["Handler"] == "stratoflow_functions.handlers.runner.handler"
    actions = _by_action(_statements(synthesized, _role_of(runner)))
    assert set(actions) - {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} == {
        "logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "execute-api:Invoke",
    }  # fmt: skip
    assert "CodeBucket" in json.dumps(actions["s3:GetObject"]["Resource"])
    assert "IamApi" in json.dumps(actions["execute-api:Invoke"]["Resource"])


def test_api_starts_and_stops_exactly_the_launchers_and_the_scheduler_only_starts(
    synthesized: Synthesized,
) -> None:
    machines = sorted(_resources(synthesized, "AWS::StepFunctions::StateMachine"))
    for construct, cancels in (("Api", True), ("Scheduler", False)):
        _, function = _function(synthesized, construct)
        env = function["Properties"]["Environment"]["Variables"]
        for infra in INFRAS:
            logical, _ = _machine(synthesized, infra)
            assert env[f"STRATOFLOW_{infra.upper()}_LAUNCHER_ARN"] == {"Ref": logical}
        actions = _by_action(_statements(synthesized, _role_of(function)))
        started = actions["states:StartExecution"]["Resource"]
        assert sorted(r["Ref"] for r in started) == machines
        assert ("states:StopExecution" in actions) is cancels
        assert ("ecs:StopTask" in actions) is cancels
    _, api = _function(synthesized, "Api")
    api_actions = _by_action(_statements(synthesized, _role_of(api)))
    stop = api_actions["ecs:StopTask"]
    assert "ecs:cluster" in stop["Condition"]["ArnEquals"]
    executions = json.dumps(api_actions["states:StopExecution"]["Resource"])
    assert executions.count(":execution:") == 4


def test_each_launcher_has_its_alarms_and_its_dashboard_row(synthesized: Synthesized) -> None:
    alarms = _resources(synthesized, "AWS::CloudWatch::Alarm")
    for infra in INFRAS:
        logical, _ = _machine(synthesized, infra)
        watching = {"Name": "StateMachineArn", "Value": {"Ref": logical}}
        metrics = {
            a["Properties"]["MetricName"]
            for a in alarms.values()
            if watching in a["Properties"].get("Dimensions", [])
        }
        assert metrics == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled"}
    runner = [k for k in alarms if k.startswith("StratoflowMonitoringLambdaRunner")]
    names = {alarms[k]["Properties"]["MetricName"] for k in runner}
    assert names == {"Errors", "Throttles"}
    [dashboard] = _resources(synthesized, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for infra in INFRAS:
        assert f"{infra.lower()} launcher executions" in body


def test_no_secret_value_reaches_the_template(synthesized: Synthesized, keyed: Synthesized) -> None:
    for synth in (synthesized, keyed):
        text = json.dumps(synth.template_json)
        assert "{{resolve:secretsmanager" not in text
        assert "SecretString" not in text
        assert "AWS::SecretsManager::Secret" not in text
    # The secrets are named only by ARN, in IAM statements and settings.
    assert json.dumps(synthesized.template_json).count(KUBECONFIG_SECRET) == 2


def test_runner_alone_builds_no_ecs_and_uses_the_key_secret(keyed: Synthesized) -> None:
    for kind in ("AWS::ECS::Cluster", "AWS::EC2::VPC", "AWS::EC2::SecurityGroup"):
        assert _resources(keyed, kind) == {}, kind
    [machine] = _resources(keyed, "AWS::StepFunctions::StateMachine")
    assert machine.startswith("StratoflowLaunchLambdaLauncher")
    roles = json.dumps(_resources(keyed, "AWS::IAM::Role"))
    assert "RoleName" not in roles  # no flow-run task roles without Fargate
    _, runner = _function(keyed, "LambdaRunner")
    assert runner["Properties"]["Timeout"] == 300
    actions = _by_action(_statements(keyed, _role_of(runner)))
    assert actions["secretsmanager:GetSecretValue"]["Resource"] == API_KEY_SECRET
    assert "execute-api:Invoke" not in actions
    env = runner["Properties"]["Environment"]["Variables"]
    assert env["STRATOFLOW_LAUNCH_API_KEY_SECRET"] == API_KEY_SECRET
    assert "KeyApi" in json.dumps(env["STRATOFLOW_LAUNCH_API_URL"])
    _, api = _function(keyed, "Api")
    api_env = api["Properties"]["Environment"]["Variables"]
    assert [k for k in api_env if k.endswith("_LAUNCHER_ARN")] == ["STRATOFLOW_LAMBDA_LAUNCHER_ARN"]
    assert "ecs:StopTask" not in json.dumps(_statements(keyed, _role_of(api)))


def _layers(synthesized: Synthesized) -> dict[str, list[Any]]:
    """The layers of each function built from the Stratoflow code (not CDK's own)."""
    return {
        logical: resource["Properties"].get("Layers", [])
        for logical, resource in _resources(synthesized, "AWS::Lambda::Function").items()
        if logical.startswith("Stratoflow")
    }


def test_the_vertex_launcher_alone_has_the_vertex_layer(synthesized: Synthesized) -> None:
    [(layer, resource)] = _resources(synthesized, "AWS::Lambda::LayerVersion").items()
    vertex, _ = _function(synthesized, "VertexLauncher")
    layers = _layers(synthesized)

    assert layers.pop(vertex) == [{"Ref": layer}]
    assert len(layers) >= 8  # api, authorizer, towel, state events, the other launchers...
    assert all(found == [] for found in layers.values()), layers
    props = resource["Properties"]
    assert props["CompatibleRuntimes"] == ["python3.12"]
    assert props["CompatibleArchitectures"] == ["arm64"]


def test_without_the_vertex_launcher_there_is_no_layer(keyed: Synthesized) -> None:
    assert _resources(keyed, "AWS::Lambda::LayerVersion") == {}
    assert all(found == [] for found in _layers(keyed).values())


def test_keyed_synth_leaves_no_open_nag_finding(keyed: Synthesized) -> None:
    for plugin in keyed.validation_report.get("pluginReports", []):
        assert plugin["conclusion"] == "success", plugin["pluginName"]


def _context_props(**context: str) -> Any:
    from aws_cdk import App, Stack

    from stratoflow_infra.stack import props_from_context

    app = App(context={f"stratoflow:{k}": v for k, v in context.items()})
    return props_from_context(Stack(app, "S"))


def test_nothing_launches_by_default() -> None:
    props = _context_props()
    assert (props.fargate, props.kubernetes, props.vertex, props.lambda_runner) == (None,) * 4


def test_a_partial_vertex_configuration_names_what_is_missing() -> None:
    with pytest.raises(ValueError, match="stratoflow:vertexProject, stratoflow:vertexRegion"):
        _context_props(vertexCredentialsSecretArn=VERTEX_SECRET)


def test_a_runner_timeout_beyond_lambdas_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="15 minutes"):
        _context_props(lambdaRunner="true", lambdaRunnerTimeoutSeconds="901")


def test_an_unknown_fargate_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="stratoflow:fargate"):
        _context_props(fargate="old-vpc")


def test_a_missing_definition_file_fails_synth_naming_it(tmp_path: Path) -> None:
    from aws_cdk import App, Stack

    from stratoflow_infra.constructs import LambdaRunnerProps, Stratoflow, StratoflowProps

    props = StratoflowProps(
        code_path=str(STUB_CODE),
        lambda_runner=LambdaRunnerProps(),
        definitions_path=str(tmp_path),
    )
    with pytest.raises(FileNotFoundError, match=r"lambda\.asl\.json"):
        Stratoflow(Stack(App(outdir=str(tmp_path)), "S"), "Stratoflow", props=props)
