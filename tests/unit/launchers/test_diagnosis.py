"""Diagnosis of Step Functions failures, and of the PascalCase ECS task they hand on (the
stopped task's own reasons: tests/unit/infrastructure/test_ecs_status.py)."""

from __future__ import annotations

import json

from stratoflow_functions.launchers.diagnosis import diagnose_failure, diagnose_task


def test_the_pascal_case_task_step_functions_hands_on_reads_the_same() -> None:
    task = {
        "StopCode": "EssentialContainerExited",
        "Containers": [{"Name": "flow", "ExitCode": 137}],
    }
    assert diagnose_task(task) == "out of memory: the flow container was killed (exit code 137)"


def test_a_sync_failure_whose_cause_is_the_task() -> None:
    cause = json.dumps({"StopCode": "EssentialContainerExited", "Containers": [{"ExitCode": 3}]})
    assert diagnose_failure("States.TaskFailed", cause) == (
        "the flow container exited with code 3; the ECS task stopped (EssentialContainerExited)"
    )


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
