"""The scheduler's plan: which runs each deployment schedule should have, as frozen data.

Pure decide-then-act (no I/O, the clock is passed in): the scheduler service calls `plan_runs`
for a deployment and creates each `PlannedRun` with its idempotency key, so a run that already
exists is a no-op and two overlapping scheduler invocations never create the same run twice.
The key depends only on the deployment, the schedule and the UTC start time, never on when the
plan was made. `is_late` is the predicate behind the SCHEDULED → Late transition (SPEC §2).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from stratoflow.schemas.flows import Deployment, DeploymentSchedule
from stratoflow_functions.orchestration.schedules import next_times

__all__ = ["PlannedRun", "idempotency_key", "is_late", "plan_runs"]

# How far `min_runs` may reach past the horizon for a sparse schedule (a yearly rrule needs
# three years for three runs); bounded so an exhausted rule cannot make the search endless.
_MIN_RUNS_LOOKAHEAD = timedelta(days=366 * 25)


@dataclass(frozen=True)
class PlannedRun:
    """One flow run the scheduler should make sure exists.

    Attributes:
        deployment_id: The deployment the run belongs to.
        schedule_id: The deployment schedule that produced it.
        start: Expected start time, timezone-aware UTC.
        parameters: The deployment's parameters overridden by the schedule's (a private copy).
        idempotency_key: `scheduled:{deployment}:{schedule}:{UTC start}`; see `idempotency_key`.
        name: A readable run name, `{deployment name}-{UTC start as YYYYmmdd-HHMMSS}`.
    """

    deployment_id: UUID
    schedule_id: UUID
    start: datetime
    parameters: dict[str, Any]
    idempotency_key: str
    name: str


def idempotency_key(deployment_id: UUID | str, schedule_id: UUID | str, start: datetime) -> str:
    """The key that makes creating a scheduled run idempotent.

    Args:
        deployment_id: The deployment's id.
        schedule_id: The schedule's id.
        start: The run's start time (timezone-aware; any zone, the key uses UTC).

    Returns:
        `scheduled:{deployment}:{schedule}:{start}` with the start as ISO 8601 UTC ending in
        `Z`, e.g. `scheduled:…:…:2024-03-31T01:00:00Z` (microseconds only when non-zero).

    Raises:
        ValueError: `start` is naive.
    """
    return f"scheduled:{deployment_id}:{schedule_id}:{_utc_iso(start)}"


def plan_runs(
    deployment: Deployment,
    now: datetime,
    *,
    min_runs: int = 3,
    max_runs: int = 100,
    horizon: timedelta = timedelta(days=7),
) -> list[PlannedRun]:
    """The runs every active schedule of a deployment should have after `now`.

    Per schedule: every run in `(now, now + horizon]`, but at least `min_runs` (even beyond
    the horizon) and at most `max_runs`. A paused deployment and inactive schedules plan
    nothing. Runs are ordered by schedule, then start time.

    Args:
        deployment: The deployment, with its schedules.
        now: The current time (timezone-aware).
        min_runs: Runs to keep ahead even when the horizon holds fewer.
        max_runs: Cap per schedule.
        horizon: How far ahead to plan.

    Returns:
        The planned runs.

    Raises:
        ValueError: `now` is naive, the bounds are inconsistent, or a schedule is invalid.
    """
    _check_bounds(min_runs, max_runs, horizon)
    if deployment.paused:
        return []
    return [
        _planned_run(deployment, entry, start)
        for entry in deployment.schedules
        if entry.active
        for start in _start_times(entry, now, min_runs, max_runs, horizon)
    ]


def is_late(scheduled_time: datetime, now: datetime, late_after_seconds: float = 15) -> bool:
    """Whether a SCHEDULED run is more than `late_after_seconds` past its start time.

    Args:
        scheduled_time: When the run should have started (timezone-aware).
        now: The current time (timezone-aware).
        late_after_seconds: Grace period; exactly this late is not yet late.

    Returns:
        True when the run is late.
    """
    return now - scheduled_time > timedelta(seconds=late_after_seconds)


def _check_bounds(min_runs: int, max_runs: int, horizon: timedelta) -> None:
    if not 0 <= min_runs <= max_runs:
        raise ValueError(f"need 0 <= min_runs <= max_runs, got {min_runs} and {max_runs}")
    if horizon < timedelta(0):
        raise ValueError(f"horizon must not be negative, got {horizon}")


def _start_times(
    entry: DeploymentSchedule, now: datetime, min_runs: int, max_runs: int, horizon: timedelta
) -> list[datetime]:
    within = next_times(entry.schedule, now, now + horizon, max_runs)
    if len(within) >= min_runs:
        return within
    return next_times(entry.schedule, now, now + _MIN_RUNS_LOOKAHEAD, min_runs)


def _planned_run(deployment: Deployment, entry: DeploymentSchedule, start: datetime) -> PlannedRun:
    parameters = copy.deepcopy({**deployment.parameters, **entry.parameters})
    return PlannedRun(
        deployment_id=deployment.id,
        schedule_id=entry.id,
        start=start,
        parameters=parameters,
        idempotency_key=idempotency_key(deployment.id, entry.id, start),
        name=f"{deployment.name}-{start.astimezone(UTC):%Y%m%d-%H%M%S}",
    )


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"start must be a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
