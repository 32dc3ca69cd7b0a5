"""The ECS diagnosis the launcher and the agent give a stopped task: each stop code, stopped
reason and exit code, in the words the run's CRASHED state carries (boto3's casing)."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.infrastructure.ecs_status import (
    OOM_EXIT_CODE,
    diagnose_stopped_task,
    flow_exit_code,
)

ESSENTIAL = "Essential container in task exited"
PULL = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
    "resolve ref ghcr.io/acme/etl:9: not found"
)
OOM = "OutOfMemoryError: Container killed due to memory usage"


def stopped_task(stop_code: str, stopped_reason: str, **container: Any) -> dict[str, Any]:
    """A DescribeTasks task as ECS answers one, with a sidecar before the flow container."""
    return {
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/stratoflow/0f3e",
        "lastStatus": "STOPPED",
        "stopCode": stop_code,
        "stoppedReason": stopped_reason,
        "containers": [
            {"name": "log-router", "lastStatus": "STOPPED", "exitCode": 0},
            {"name": "flow", "lastStatus": "STOPPED", **container},
        ],
    }


CASES = [
    ("image pull (stopped reason)", stopped_task("TaskFailedToStart", PULL),
     f"the image could not be pulled: {PULL}"),
    ("image pull (container reason)",
     stopped_task("TaskFailedToStart", "x", reason="CannotPullContainerError: denied"),
     "the image could not be pulled: CannotPullContainerError: denied"),
    ("spot interruption", stopped_task("SpotInterruption", "Your Spot Task was interrupted."),
     "the task was evicted (Spot capacity reclaimed): Your Spot Task was interrupted."),
    ("failed to start",
     stopped_task("TaskFailedToStart", "ResourceInitializationError: unable to pull secrets"),
     "the task failed to start: ResourceInitializationError: unable to pull secrets"),
    ("OOM by exit code 137 and reason",
     stopped_task("EssentialContainerExited", ESSENTIAL, exitCode=137, reason=OOM),
     f"out of memory: the flow container was killed (exit code 137): {OOM}"),
    ("OOM by exit code 137 alone",
     stopped_task("EssentialContainerExited", ESSENTIAL, exitCode=137),
     "out of memory: the flow container was killed (exit code 137)"),
    ("OOM by reason alone", stopped_task("EssentialContainerExited", ESSENTIAL, reason=OOM),
     f"out of memory: the flow container was killed (no exit code): {OOM}"),
    ("nonzero exit code", stopped_task("EssentialContainerExited", ESSENTIAL, exitCode=2),
     f"the flow container exited with code 2; the ECS task stopped (EssentialContainerExited): "
     f"{ESSENTIAL}"),
    ("stopped by a user", stopped_task("UserInitiated", "Task stopped by user", exitCode=143),
     "the flow container exited with code 143; the ECS task stopped (UserInitiated): Task "
     "stopped by user"),
    ("exit code 0 but stopped", stopped_task("EssentialContainerExited", ESSENTIAL, exitCode=0),
     f"the ECS task stopped (EssentialContainerExited): {ESSENTIAL}"),
    ("nothing known", {"containers": []}, "the ECS task stopped (no stop code)"),
]  # fmt: skip


@pytest.mark.parametrize(("task", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_diagnose_stopped_task(task: dict[str, Any], expected: str) -> None:
    assert diagnose_stopped_task(task) == expected


@pytest.mark.parametrize(
    ("task", "code"),
    [
        (stopped_task("EssentialContainerExited", ESSENTIAL, exitCode=OOM_EXIT_CODE), 137),
        (stopped_task("TaskFailedToStart", PULL), None),  # the sidecar's 0 is not the run's
        ({"containers": [{"name": "other", "exitCode": 4}]}, 4),  # no flow container: the first
        ({}, None),
    ],
)
def test_flow_exit_code_is_the_flow_containers(task: dict[str, Any], code: int | None) -> None:
    assert flow_exit_code(task) == code
