"""Lambda entry point of the launcher function (one code, one function per infrastructure,
`STRATOFLOW_LAUNCHER_INFRASTRUCTURE` says which): a thin adapter over `launchers.steps`.

Event `{"action": "claim" | "prepare" | "launch" | "status" | "settle", "flow_run_id": ...}`
(plus `infrastructure_id` for status, `task` or `failure` for settle); the answer is the
action's (docs/launchers.md). An error is raised, so the state machine's Catch settles the run.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from stratoflow.schemas import InfrastructureType
from stratoflow_functions.config import load_settings
from stratoflow_functions.launchers.cancel import ecs_client
from stratoflow_functions.launchers.context import LauncherContext
from stratoflow_functions.launchers.steps import LauncherEvent, answer
from stratoflow_functions.store import build_store


def handle(event: dict[str, Any], ctx: LauncherContext) -> dict[str, Any]:
    """Answer one state-machine step."""
    return answer(ctx, LauncherEvent.model_validate(event))


@cache
def launcher_context() -> LauncherContext:
    """Settings, store and clients, built on the first invocation of this environment.

    Raises:
        ValueError: STRATOFLOW_LAUNCHER_INFRASTRUCTURE is missing or not an infrastructure.
    """
    settings = load_settings()
    infrastructure = InfrastructureType(settings.launcher_infrastructure or "")
    return LauncherContext(
        store=build_store(settings),
        settings=settings,
        infrastructure=infrastructure,
        ecs=ecs_client(settings) if infrastructure is InfrastructureType.ECS else None,
    )


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: `stratoflow_functions.handlers.launcher.handler`."""
    return handle(event, launcher_context())
