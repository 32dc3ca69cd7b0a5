"""The scheduler's plan: which runs each deployment schedule should have, as frozen data.

Pure decide-then-act (no I/O, the clock is passed in): the scheduler service calls
`plan_deployment` for a deployment and creates each `PlannedRun` with its idempotency key, so a
run that already exists is a no-op and two overlapping scheduler invocations never create the
same run twice. The key depends only on the deployment, the schedule and the UTC start time,
never on when the plan was made. Each schedule is planned on its own budget
(`PLANNING_BUDGET`); one that cannot be planned becomes a `ScheduleFailure` in the plan and the
others are planned as usual. `is_late` is the predicate behind the SCHEDULED → Late transition
(SPEC §2).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from stratoflow.schemas.flows import Deployment, DeploymentSchedule
from stratoflow_functions.scheduling.schedule_budget import (
    DEPLOYMENT_PLANNING_BUDGET,
    PLANNING_BUDGET,
    BudgetSpec,
    Clock,
    ScheduleError,
    cpu_clock,
)
from stratoflow_functions.scheduling.schedules import PlanBounds, upcoming_times

__all__ = [
    "DeploymentPlan",
    "PlannedRun",
    "ScheduleFailure",
    "idempotency_key",
    "is_late",
    "plan_deployment",
    "plan_runs",
]


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


@dataclass(frozen=True)
class ScheduleFailure:
    """A schedule the scheduler could not plan this time (it plans nothing for it).

    Attributes:
        deployment_id: The deployment the schedule belongs to.
        schedule_id: The schedule.
        reason: `invalid`, `never_fires` or `over_budget` (see `ScheduleError`).
        message: What is wrong, naming the schedule (never its parameters).
    """

    deployment_id: UUID
    schedule_id: UUID
    reason: str
    message: str


@dataclass(frozen=True)
class DeploymentPlan:
    """What one deployment's schedules want: the runs, and the schedules that failed."""

    runs: tuple[PlannedRun, ...] = ()
    failures: tuple[ScheduleFailure, ...] = ()


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


def plan_deployment(
    deployment: Deployment,
    now: datetime,
    bounds: PlanBounds | None = None,
    *,
    budget: BudgetSpec = PLANNING_BUDGET,
    deployment_budget: BudgetSpec = DEPLOYMENT_PLANNING_BUDGET,
    clock: Clock = cpu_clock,
) -> DeploymentPlan:
    """The runs every active schedule of a deployment should have after `now`.

    Per schedule: every run in `(now, now + horizon]`, but at least `min_runs` (even beyond
    the horizon) and at most `max_runs`. A paused deployment and inactive schedules plan
    nothing. Runs are ordered by schedule, then start time. Each schedule is planned on a
    fresh `budget`, all of them within one `deployment_budget` (both on `clock`, the thread's
    CPU time by default); a schedule that is invalid or over budget plans nothing and is
    reported in `failures`, and the next schedule is planned as usual.

    Args:
        deployment: The deployment, with its schedules.
        now: The current time (timezone-aware).
        bounds: Runs per schedule; `PlanBounds()` by default.
        budget: What planning one schedule may spend.
        deployment_budget: What planning all of them may spend.
        clock: The clock the budgets' time limits run on.

    Returns:
        The planned runs and the failed schedules.

    Raises:
        ValueError: `now` is naive or the bounds are inconsistent.
    """
    limits = bounds or PlanBounds()
    _check_bounds(limits.min_runs, limits.max_runs, limits.horizon)
    _require_aware(now)
    if deployment.paused:
        return DeploymentPlan()
    shared = deployment_budget.start(clock)
    runs: list[PlannedRun] = []
    failures: list[ScheduleFailure] = []
    for entry in deployment.schedules:
        if not entry.active:
            continue
        try:
            starts = upcoming_times(entry.schedule, now, limits, budget.start(clock, shared))
        except ScheduleError as exc:
            failures.append(ScheduleFailure(deployment.id, entry.id, exc.reason, str(exc)))
            continue
        runs.extend(_planned_run(deployment, entry, start) for start in starts)
    return DeploymentPlan(tuple(runs), tuple(failures))


def plan_runs(
    deployment: Deployment,
    now: datetime,
    *,
    min_runs: int = 3,
    max_runs: int = 100,
    horizon: timedelta = timedelta(days=7),
) -> list[PlannedRun]:
    """`plan_deployment`'s runs, raising on the first schedule that cannot be planned.

    Raises:
        ValueError: `now` is naive or the bounds are inconsistent.
        ScheduleError: A schedule cannot be planned (the first one's message).
    """
    plan = plan_deployment(deployment, now, PlanBounds(min_runs, max_runs, horizon))
    if plan.failures:
        first = plan.failures[0]
        raise ScheduleError(first.message, first.reason)
    return list(plan.runs)


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


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")


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
