"""Stable schedule ids across deploys: the scheduler's idempotency keys contain them.

A schedule whose definition (the schedule and its parameters) is unchanged keeps its id; a new
definition gets an id derived from the deployment and the definition, so retrying the same
deploy assigns the same ids.
"""

from __future__ import annotations

import json
from collections import defaultdict
from uuid import UUID, uuid5

from stratoflow.schemas import DeploymentSchedule, DeploymentScheduleCreate


def definition(schedule: DeploymentScheduleCreate) -> str:
    """A canonical string of what makes two schedules the same (not their `active` flag)."""
    body = {
        "schedule": schedule.schedule.model_dump(mode="json"),
        "parameters": schedule.parameters,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def _fresh_id(deployment_id: UUID, key: str, used: set[UUID]) -> UUID:
    n = 0
    while (candidate := uuid5(deployment_id, f"{key}#{n}")) in used:
        n += 1
    return candidate


def assign_schedule_ids(
    deployment_id: UUID,
    schedules: list[DeploymentScheduleCreate],
    existing: list[DeploymentSchedule],
) -> list[DeploymentSchedule]:
    """Give each schedule of a deploy an id, reusing the id of an unchanged existing schedule.

    Args:
        deployment_id: The deployment the schedules belong to.
        schedules: The schedules of this deploy, in order.
        existing: The schedules stored before this deploy.

    Returns:
        The schedules with ids, in the order given.
    """
    reusable: dict[str, list[UUID]] = defaultdict(list)
    for old in existing:
        reusable[definition(old)].append(old.id)
    used: set[UUID] = set()
    assigned = []
    for new in schedules:
        key = definition(new)
        pool = reusable.get(key)
        schedule_id = pool.pop(0) if pool else _fresh_id(deployment_id, key, used | _ids(existing))
        used.add(schedule_id)
        assigned.append(
            DeploymentSchedule(
                id=schedule_id, schedule=new.schedule, active=new.active, parameters=new.parameters
            )
        )
    return assigned


def _ids(schedules: list[DeploymentSchedule]) -> set[UUID]:
    return {schedule.id for schedule in schedules}
