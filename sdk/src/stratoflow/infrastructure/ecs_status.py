"""Pure: why a stopped ECS task stopped, from its description in boto3's casing (lowerCamel,
as `describe_tasks` answers it; the launchers lower Step Functions' PascalCase first).

The reasons, most telling first: the image could not be pulled, a Spot interruption, a task
that failed to start, out of memory (exit code 137 or an `OutOfMemory` reason), the flow
container's nonzero exit code (then the task's stop code and reason: who stopped it), else the
task's stop code and reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratoflow.infrastructure.ecs import CONTAINER_NAME

OOM_EXIT_CODE = 137
"""128 + SIGKILL: the kernel's OOM killer (or the hard stop after StopTask's grace)."""


def diagnose_stopped_task(task: Mapping[str, Any]) -> str:
    """The reason a stopped ECS task gives, in one line."""
    stop_code = str(task.get("stopCode") or "")
    stopped = str(task.get("stoppedReason") or "")
    container = flow_container(task)
    container_reason = str(container.get("reason") or "")
    exit_code = container.get("exitCode")
    both = f"{stopped} {container_reason}"
    if "CannotPullContainerError" in both or "pull image" in both.lower():
        return f"the image could not be pulled: {_first(container_reason, stopped)}"
    if stop_code == "SpotInterruption":
        return f"the task was evicted (Spot capacity reclaimed): {stopped}"
    if stop_code == "TaskFailedToStart" or "ResourceInitializationError" in both:
        return f"the task failed to start: {_first(stopped, container_reason)}"
    if exit_code == OOM_EXIT_CODE or "OutOfMemory" in container_reason:
        code = f"exit code {exit_code}" if exit_code is not None else "no exit code"
        return f"out of memory: the flow container was killed ({code}){_suffix(container_reason)}"
    task_stopped = f"the ECS task stopped ({stop_code or 'no stop code'}){_suffix(stopped)}"
    if exit_code is not None and exit_code != 0:
        exited = f"the flow container exited with code {exit_code}{_suffix(container_reason)}"
        return f"{exited}; {task_stopped}"
    return task_stopped


def flow_container(task: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `flow` container (the one the task definition runs), else the first one."""
    containers = [c for c in task.get("containers") or [] if isinstance(c, Mapping)]
    named = [c for c in containers if c.get("name") == CONTAINER_NAME]
    return (named or containers or [{}])[0]


def flow_exit_code(task: Mapping[str, Any]) -> int | None:
    """The flow container's exit code; None when it has none (it never ran)."""
    code = flow_container(task).get("exitCode")
    return int(code) if code is not None else None


def _first(*texts: str) -> str:
    return next((text for text in texts if text), "no reason given")


def _suffix(text: str) -> str:
    return f": {text}" if text else ""
