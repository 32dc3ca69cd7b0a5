"""The ECS launcher machine executed in moto: claim, prepare, `ecs:runTask.sync`, settle."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from uuid import uuid4

from stratoflow.schemas import InfrastructureType, StateType
from stratoflow_functions.launchers.names import launcher_agent_id
from tests.functional.launchers.launcher_support import World, wait_for

ECS = InfrastructureType.ECS


def test_a_run_goes_from_scheduled_through_an_ecs_task_to_completed(world: World) -> None:
    machine = world.machine(ECS)
    run_id = world.scheduled_run(world.deployment(ECS, infra_overrides={"cpu": 512}))
    execution = world.start(machine, run_id)

    task_arn = world.one_task(execution)
    run = world.run_reaches(run_id, StateType.PENDING)
    assert run.agent_id == launcher_agent_id(ECS)
    assert run.infrastructure_id == execution  # what a cancel stops until the task is known
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


def test_a_run_a_rival_claimed_first_ends_the_execution_quietly(world: World) -> None:
    machine = world.machine(ECS)
    run_id = world.scheduled_run(world.deployment(ECS))
    rival = world.api.post("/work-queues/default/claim", {"agent_id": str(uuid4())})
    assert [r["flow_run"]["id"] for r in rival.body["runs"]] == [str(run_id)]
    before = world.run(run_id)

    finished = world.finished(world.start(machine, run_id))

    assert finished["status"] == "SUCCEEDED"
    assert "settled" not in json.loads(finished["output"])
    assert world.run(run_id) == before  # untouched
    assert world.ecs.list_tasks(cluster=world.settings.ecs_cluster_arn)["taskArns"] == []


def test_a_full_concurrency_limit_waits_then_claims_once_the_slot_frees(world: World) -> None:
    machine = world.machine(ECS)
    deployment = world.deployment(ECS, concurrency_limit=1)
    holder, waiter = world.scheduled_run(deployment), world.scheduled_run(deployment)
    first = world.start(machine, holder)
    world.run_reaches(holder, StateType.PENDING)
    second = world.start(machine, waiter)

    wait_for("the second claim to wait", lambda: _entered(world, second, "WaitForSlot"))
    assert world.run(waiter).state.type is StateType.SCHEDULED
    world.propose(holder, StateType.CANCELLED)  # frees the slot

    world.run_reaches(waiter, StateType.PENDING)
    assert world.run(waiter).agent_id == launcher_agent_id(ECS)
    world.sfn.stop_execution(executionArn=first)


def test_a_run_task_the_cluster_refuses_crashes_the_run_with_the_reason(world: World) -> None:
    gone = "arn:aws:ecs:us-east-1:123456789012:cluster/gone"
    world.settings = replace(world.settings, ecs_cluster_arn=gone)  # a stack whose cluster went
    machine = world.machine(ECS)
    run_id = world.scheduled_run(world.deployment(ECS))

    finished = world.finished(world.start(machine, run_id))

    assert finished["status"] == "SUCCEEDED", world.failures(finished["executionArn"])
    run = world.run(run_id)
    assert run.state.type is StateType.CRASHED
    assert run.state.message is not None
    assert run.state.message.startswith("ecs launch: ECS.ClusterNotFoundException")


def test_a_task_stopped_by_an_image_pull_error_crashes_the_run_with_the_diagnosis(
    world: World,
) -> None:
    machine = world.machine(ECS)
    run_id = world.scheduled_run(world.deployment(ECS))
    execution = world.start(machine, run_id)
    task_arn = world.one_task(execution)

    world.ecs.stop_task(
        cluster=world.settings.ecs_cluster_arn,
        task=task_arn,
        reason="CannotPullContainerError: pull image manifest has been retried 1 time(s)",
    )

    assert world.finished(execution)["status"] == "SUCCEEDED"
    run = world.run(run_id)
    assert run.state.type is StateType.CRASHED
    assert run.state.message is not None
    assert "the image could not be pulled: CannotPullContainerError" in run.state.message


def test_a_launch_without_an_api_url_crashes_the_run_naming_the_setting(world: World) -> None:
    world.settings = dataclasses.replace(world.settings, launch_api_url=None)
    machine = world.machine(ECS)
    run_id = world.scheduled_run(world.deployment(ECS))

    assert world.finished(world.start(machine, run_id))["status"] == "SUCCEEDED"
    run = world.run(run_id)
    assert run.state.type is StateType.CRASHED
    assert run.state.message is not None
    assert "LaunchError: STRATOFLOW_LAUNCH_API_URL is not set" in run.state.message


def _entered(world: World, execution_arn: str, state: str) -> bool:
    events = world.sfn.get_execution_history(executionArn=execution_arn)["events"]
    return any(e.get("stateEnteredEventDetails", {}).get("name") == state for e in events)
