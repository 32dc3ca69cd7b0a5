"""The poll-loop machine (Kubernetes, Vertex) with an in-memory JobBackend, and the Lambda
machine with runner functions run in process, executed in moto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from stratoflow.schemas import InfrastructureType, StateType
from stratoflow_functions.launchers.backends import JobStatus
from tests.functional.launchers.launcher_support import World, wait_for

K8S = InfrastructureType.KUBERNETES
LAMBDA = InfrastructureType.LAMBDA


@pytest.mark.parametrize("infrastructure", [K8S, InfrastructureType.VERTEX])
def test_a_job_that_finishes_ok_ends_the_poll_loop(
    world: World, infrastructure: InfrastructureType
) -> None:
    machine = world.machine(infrastructure)
    run_id = world.scheduled_run(world.deployment(infrastructure))
    execution = world.start(machine, run_id)
    job_id = wait_for("the job", lambda: next(iter(world.backend.jobs), None))
    wait_for("the job's id on the run", lambda: world.run(run_id).infrastructure_id == job_id)

    world.propose(run_id, StateType.RUNNING)
    world.propose(run_id, StateType.COMPLETED)
    world.backend.statuses[job_id] = JobStatus(finished=True, succeeded=True)

    assert world.finished(execution)["status"] == "SUCCEEDED"
    assert world.run(run_id).state.type is StateType.COMPLETED
    assert world.backend.stopped == []  # a Job that succeeded is left to its TTL


def test_a_failed_job_crashes_the_run_with_the_backend_reason(world: World) -> None:
    machine = world.machine(K8S)
    run_id = world.scheduled_run(world.deployment(K8S))
    execution = world.start(machine, run_id)
    job_id = wait_for("the job", lambda: next(iter(world.backend.jobs), None))
    world.propose(run_id, StateType.RUNNING)

    world.backend.statuses[job_id] = JobStatus(finished=True, succeeded=False, reason="OOMKilled")

    assert world.finished(execution)["status"] == "SUCCEEDED"
    run = world.run(run_id)
    assert run.state.type is StateType.CRASHED
    assert run.state.message == "kubernetes launch: OOMKilled"
    assert world.backend.stopped == [job_id]  # a failed Job is deleted, not left holding pods


def test_a_cancelling_run_stops_its_job_and_becomes_cancelled(world: World) -> None:
    machine = world.machine(K8S)
    run_id = world.scheduled_run(world.deployment(K8S))
    execution = world.start(machine, run_id)
    job_id = wait_for("the job", lambda: next(iter(world.backend.jobs), None))
    world.propose(run_id, StateType.RUNNING)

    assert world.propose(run_id, StateType.CANCELLING) is StateType.CANCELLING

    assert world.finished(execution)["status"] == "SUCCEEDED"
    assert world.backend.stopped == [job_id]
    assert world.run(run_id).state.type is StateType.CANCELLED


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # lets a timed-out runner's thread finish


def test_a_runner_that_returns_settles_the_run_it_completed(world: World) -> None:
    def runner(event: dict[str, Any], context: object) -> dict[str, Any]:
        from uuid import UUID

        run_id = UUID(event["flow_run_id"])
        world.propose(run_id, StateType.RUNNING)
        world.propose(run_id, StateType.COMPLETED)
        return {"state": "COMPLETED"}

    machine = world.machine(LAMBDA, runner_arn=world.function("runner", runner))
    run_id = world.scheduled_run(world.deployment(LAMBDA))

    assert world.finished(world.start(machine, run_id))["status"] == "SUCCEEDED"
    assert world.run(run_id).state.type is StateType.COMPLETED


def test_a_runner_that_raises_crashes_the_run_with_the_error(world: World) -> None:
    def runner(event: dict[str, Any], context: object) -> dict[str, Any]:
        raise RuntimeError("no module named etl")

    machine = world.machine(LAMBDA, runner_arn=world.function("runner", runner))
    run_id = world.scheduled_run(world.deployment(LAMBDA))

    assert world.finished(world.start(machine, run_id))["status"] == "SUCCEEDED"
    run = world.run(run_id)
    assert run.state.type is StateType.CRASHED
    assert run.state.message == "lambda launch: RuntimeError: no module named etl"


def test_a_runner_that_times_out_crashes_the_run_saying_so(
    world: World, release: threading.Event
) -> None:
    def runner(event: dict[str, Any], context: object) -> dict[str, Any]:
        release.wait(30)
        return {}

    runner_arn = world.function("runner", runner, timeout=1)
    machine = world.machine(LAMBDA, runner_arn=runner_arn)
    run_id = world.scheduled_run(world.deployment(LAMBDA))

    assert world.finished(world.start(machine, run_id))["status"] == "SUCCEEDED"
    run = world.run(run_id)
    assert run.state.type is StateType.CRASHED
    assert run.state.message is not None
    assert run.state.message.startswith("lambda launch: timed out: ")
    assert "Task timed out after 1.00 seconds" in run.state.message
