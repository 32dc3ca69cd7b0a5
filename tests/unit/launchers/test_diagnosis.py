"""Diagnosis of real-shaped ECS task descriptions and Step Functions failures."""

from __future__ import annotations

import json
from typing import Any

from stratoflow_functions.launchers.diagnosis import diagnose_failure, diagnose_task


def stopped_task(stop_code: str, stopped_reason: str, **container: Any) -> dict[str, Any]:
    """A DescribeTasks task as ECS answers one (boto3 casing)."""
    return {
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/stratoflow/0f3e",
        "lastStatus": "STOPPED",
        "stopCode": stop_code,
        "stoppedReason": stopped_reason,
        "containers": [{"name": "flow", "lastStatus": "STOPPED", **container}],
    }


def test_an_image_pull_error() -> None:
    task = stopped_task(
        "TaskFailedToStart",
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        "failed to resolve ref ghcr.io/acme/etl:9: not found",
    )
    assert diagnose_task(task).startswith("the image could not be pulled: CannotPullContainer")


def test_a_task_that_failed_to_start() -> None:
    task = stopped_task(
        "TaskFailedToStart",
        "ResourceInitializationError: unable to pull secrets or registry auth",
    )
    assert diagnose_task(task) == (
        "the task failed to start: ResourceInitializationError: unable to pull secrets or "
        "registry auth"
    )


def test_out_of_memory_by_exit_code_137() -> None:
    task = stopped_task(
        "EssentialContainerExited",
        "Essential container in task exited",
        exitCode=137,
        reason="OutOfMemoryError: Container killed due to memory usage",
    )
    assert diagnose_task(task) == "out of memory: the flow container was killed (exit code 137)"


def test_an_essential_container_that_exited_with_an_error() -> None:
    task = stopped_task(
        "EssentialContainerExited", "Essential container in task exited", exitCode=2
    )
    assert diagnose_task(task) == "the flow container exited with code 2"


def test_a_spot_interruption_is_an_eviction() -> None:
    task = stopped_task("SpotInterruption", "Your Spot Task was interrupted.")
    assert diagnose_task(task) == (
        "the task was evicted (Spot capacity reclaimed): Your Spot Task was interrupted."
    )


def test_the_pascal_case_task_step_functions_hands_on_reads_the_same() -> None:
    task = {
        "StopCode": "EssentialContainerExited",
        "Containers": [{"Name": "flow", "ExitCode": 137}],
    }
    assert "out of memory" in diagnose_task(task)


def test_a_sync_failure_whose_cause_is_the_task() -> None:
    cause = json.dumps({"StopCode": "EssentialContainerExited", "Containers": [{"ExitCode": 3}]})
    assert diagnose_failure("States.TaskFailed", cause) == "the flow container exited with code 3"


def test_a_lambda_timeout() -> None:
    cause = json.dumps(
        {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 900.00 seconds"}
    )
    assert diagnose_failure("Sandbox.Timedout", cause) == (
        "timed out: Task timed out after 900.00 seconds"
    )
    assert diagnose_failure("States.Timeout", None) == "timed out: States.Timeout"


def test_no_capacity() -> None:
    cause = "Capacity is unavailable at this time. Please try again later"
    assert diagnose_failure("ECS.AmazonECSException", cause).startswith(
        "no capacity to start the task: Capacity is unavailable"
    )


def test_a_quota() -> None:
    assert diagnose_failure("ECS.LimitExceededException", "too many tasks").startswith(
        "a quota or rate limit refused the launch"
    )


def test_an_error_raised_in_a_lambda() -> None:
    cause = json.dumps({"errorType": "LaunchError", "errorMessage": "no ECS cluster"})
    assert diagnose_failure("LaunchError", cause) == "LaunchError: no ECS cluster"
