"""The launcher definitions: committed files match the builders; the shapes the design fixes."""

from __future__ import annotations

import json

import pytest

from stratoflow.schemas import InfrastructureType
from stratoflow_functions.launchers import asl


@pytest.mark.parametrize("infrastructure", list(asl.definitions()))
def test_the_committed_definition_is_the_builders_output(infrastructure: str) -> None:
    path = asl.definition_path(InfrastructureType(infrastructure))
    assert path.read_text() == asl.render(asl.definitions()[infrastructure]), (
        "run python -m stratoflow_functions.launchers.asl --write"
    )


def test_the_ecs_machine_retries_only_throttling_and_capacity_on_run_task() -> None:
    run_task = asl.ecs_definition()["States"]["RunTask"]
    retried = [error for rule in run_task["Retry"] for error in rule["ErrorEquals"]]
    assert "ECS.ThrottlingException" in retried
    assert "AmazonECS.Unknown" in retried
    assert not {"States.ALL", "States.TaskFailed"} & set(retried)
    assert run_task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert run_task["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "SettleFailure"}
    ]
    assert run_task["Parameters"]["Cluster.$"] == "$.launch.request.Cluster"


@pytest.mark.parametrize("definition", list(asl.definitions().values()))
def test_every_machine_claims_first_and_its_only_placeholders_are_the_functions(
    definition: dict[str, object],
) -> None:
    text = json.dumps(definition)
    assert definition["StartAt"] == "Claim"
    placeholders = {part.split("}")[0] for part in text.split("${")[1:]}
    assert placeholders <= {"LauncherFunctionArn", "RunnerFunctionArn"}


def test_the_lambda_machine_gives_the_runner_lambdas_fifteen_minutes() -> None:
    invoke = asl.lambda_definition()["States"]["Invoke"]
    assert invoke["TimeoutSeconds"] == 900
    assert invoke["Parameters"]["FunctionName"] == "${RunnerFunctionArn}"


def test_the_poll_loop_refuses_an_infrastructure_it_does_not_poll() -> None:
    with pytest.raises(ValueError, match="ecs is not launched by the poll loop"):
        asl.poll_definition(InfrastructureType.ECS)
