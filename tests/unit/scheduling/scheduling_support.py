"""Builders shared by the scheduling unit tests: fixed instants and deployments, no clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from stratoflow.schemas.flows import (
    CronSchedule,
    Deployment,
    DeploymentSchedule,
    IntervalSchedule,
    RRuleSchedule,
)

DEPLOYMENT_ID = UUID("11111111-1111-4111-8111-111111111111")
FLOW_ID = UUID("22222222-2222-4222-8222-222222222222")
SCHEDULE_ID = UUID("33333333-3333-4333-8333-333333333333")
OTHER_SCHEDULE_ID = UUID("44444444-4444-4444-8444-444444444444")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def entry(
    schedule: CronSchedule | IntervalSchedule | RRuleSchedule,
    *,
    schedule_id: UUID = SCHEDULE_ID,
    active: bool = True,
    parameters: dict[str, Any] | None = None,
) -> DeploymentSchedule:
    """A stored deployment schedule with a fixed id."""
    return DeploymentSchedule(
        id=schedule_id, schedule=schedule, active=active, parameters=parameters or {}
    )


def deployment(
    *schedules: DeploymentSchedule,
    paused: bool = False,
    parameters: dict[str, Any] | None = None,
) -> Deployment:
    """A deployment named `nightly` with fixed ids and the given schedules."""
    return Deployment(
        id=DEPLOYMENT_ID,
        flow_id=FLOW_ID,
        flow_name="etl",
        name="nightly",
        entrypoint="flows/etl.py:etl",
        parameters=parameters or {},
        schedules=list(schedules),
        paused=paused,
        created=utc(2024, 1, 1),
        updated=utc(2024, 1, 1),
    )
