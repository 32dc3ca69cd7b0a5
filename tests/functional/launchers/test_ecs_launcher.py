"""The ECS launcher machine executed in moto: claim, prepare, `ecs:runTask.sync`, settle."""

from __future__ import annotations

import json

from stratoflow.schemas import InfrastructureType, StateType
from stratoflow_functions.launchers.naming import launcher_agent_id
from tests.functional.launchers.launcher_support import World

ECS = InfrastructureType.ECS


def test_a_run_goes_from_scheduled_through_an_ecs_task_to_completed(world: World) -> None:
    machine = world.machine(ECS)
    run_id = world.scheduled_run(world.deployment(ECS, infra_overrides={"cpu": 512}))
    execution = world.start(machine, run_id)

    task_arn = world.one_task(execution)
    run = world.run_reaches(run_id, StateType.PENDING)
    assert run.agent_id == launcher_agent_id(ECS)
    task = world.ecs.describe_tasks(cluster=world.settings.ecs_cluster_arn, tasks=[task_arn])
    described = task["tasks"][0]
    override = described["overrides"]["containerOverrides"][0]
    assert override["command"] == ["stratoflow", "execute", str(run_id)]
    environment = {e["name"]: e["value"] for e in override["environment"]}
    assert environment["STRATOFLOW_FLOW_RUN_ID"] == str(run_id)
    assert "STRATOFLOW_API_KEY" not in environment  # by reference only

    assert world.propose(run_id, StateType.RUNNING) is StateType.RUNNING  # the container
    assert world.propose(run_id, StateType.COMPLETED) is StateType.COMPLETED
    world.ecs.stop_task(cluster=world.settings.ecs_cluster_arn, task=task_arn, reason="exit 0")

    finished = world.finished(execution)
    assert finished["status"] == "SUCCEEDED", finished
    assert json.loads(finished["output"])["settled"] == {"state": "COMPLETED"}
    final = world.run(run_id)
    assert final.state.type is StateType.COMPLETED
    assert final.infrastructure_id == task_arn
