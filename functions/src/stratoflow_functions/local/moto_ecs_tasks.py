"""Let the emulator's ECS run a Fargate task whose memory is set only on the task.

ECS takes a task definition's memory at the task level (Fargate requires it there) and makes
the container-level `memory` optional; moto 5.2 adds up the containers' `memory` to place a
task and fails with a TypeError (`int += None`) when a container has none, which is how our
task definitions are written. This reads a container without its own memory as the task's.
"""

from __future__ import annotations

from typing import Any


def make_moto_ecs_task_memory_optional() -> None:
    """Install the task-level memory fallback (idempotent: patches once per process)."""
    from moto.ecs.models import EC2ContainerServiceBackend

    cls: Any = EC2ContainerServiceBackend
    if getattr(cls, "_stratoflow_task_memory", False):
        return
    original = cls._calculate_task_resource_requirements

    def requirements(task_definition: Any) -> dict[str, Any]:
        memory = int(getattr(task_definition, "memory", None) or 0)
        containers = task_definition.container_definitions
        for container in containers:
            if not any(container.get(key) for key in _MEMORY_KEYS):
                container.setdefault("memory", memory // max(len(containers), 1))
        result: dict[str, Any] = original(task_definition)
        return result

    cls._calculate_task_resource_requirements = staticmethod(requirements)
    cls._stratoflow_task_memory = True


_MEMORY_KEYS = ("memory", "memoryReservation", "Memory", "MemoryReservation")
