"""A flow to push: the control plane starts each run on its infrastructure, no agent needed.

On the local stack (`stratoflow server start`) or a deployed stack with the launchers on:

    stratoflow deploy examples/pushed.py:pushed --name on-ecs --infra ecs
    stratoflow deploy examples/pushed.py:pushed --name on-lambda --infra lambda --interval 3600
    stratoflow run pushed/on-ecs --watch

The ECS run is a Fargate task (locally, a process the ECS emulator starts); the Lambda run
runs inside the runner function (locally, a `stratoflow execute` process).
"""

from __future__ import annotations

import os

from stratoflow import flow, get_run_logger, task


@task
def shout(text: str) -> str:
    """Say it louder."""
    return text.upper()


@flow(name="pushed")
def pushed(name: str = "world") -> str:
    """Greet `name` from wherever the run was launched."""
    where = os.environ.get("STRATOFLOW_INFRASTRUCTURE_ID", "this process")
    get_run_logger().info("pushed hello to %s", name)
    get_run_logger().info("running on %s", where)
    return shout(name)


if __name__ == "__main__":
    pushed()
