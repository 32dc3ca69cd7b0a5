"""The scheduler (SPEC 4, every 60 s): keep each active schedule's next runs created, remove
runs no schedule wants, mark Late runs, and hand due push runs to a dispatcher.

Decide first, then act: `plan_runs` says which runs a deployment should have, one consistent
batch read says which idempotency keys exist, and only the missing runs are created, each with
its key `scheduled:{deployment}:{schedule}:{UTC start}`, so overlapping invocations never make
a run twice. Work is bounded per call (deployments walked, runs created, Late candidates read,
walk time); the walk resumes from a cursor item on the next tick.

A schedule that cannot be planned (invalid, never firing, or over its planning budget: stored
before validation existed, or by an older version) is logged with the deployment and schedule
ids, counted in `SchedulerReport.schedules_failed` (metric `ScheduleFailures`) and skipped;
the deployment's other schedules and every other deployment are planned as usual.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from stratoflow.schemas import Deployment, FlowRun
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import ConflictError, ThrottledError
from stratoflow_functions.scheduling.schedule_budget import Clock, cpu_clock
from stratoflow_functions.scheduling.scheduler_plan import (
    PlannedRun,
    ScheduleFailure,
    plan_deployment,
)
from stratoflow_functions.scheduling.schedules import PlanBounds
from stratoflow_functions.services.flow_runs import scheduled_run_of
from stratoflow_functions.services.towel.late import mark_late_runs
from stratoflow_functions.services.towel.sweep import plan_sweep, sweep_deployment
from stratoflow_functions.store import Store
from stratoflow_functions.store.towel import SweepMark, TowelRepository, towel_repository

SCHEDULER = "scheduler"
REPORTED_FAILURES = 50
"""At most this many failed schedules are listed in a report (all are counted)."""
SCHEDULER_PAGE_SIZE = 25
"""Deployments per page: a page is planned whole, so this bounds what the tick does past its
`walk_seconds` (25 deployments x the deployment planning budget of 0.5 s)."""

logger = logging.getLogger(__name__)


class Dispatcher(Protocol):
    """Starts due runs of push deployments (Step Functions); the launchers issue provides one."""

    def dispatch_due(self, now: datetime) -> int:
        """Start what is due at `now`; returns how many runs were dispatched."""
        ...


class NoDispatch:
    """The default dispatcher: push deployments are not dispatched yet (a later issue)."""

    def dispatch_due(self, now: datetime) -> int:
        """Dispatch nothing."""
        return 0


@dataclass(frozen=True)
class SchedulerLimits:
    """How much one invocation may do; what is left waits for the next tick.

    `walk_seconds` is checked between pages of deployments: once the walk has taken that
    long, it stops after the page and the next tick goes on from the next one.
    """

    deployments: int = 1000
    runs_created: int = 2000
    late_candidates: int = 1000
    page_size: int = SCHEDULER_PAGE_SIZE
    walk_seconds: float = 25.0
    runs_per_schedule: int | None = None
    """At most this many runs per schedule (None: the settings' `scheduler_max_runs`)."""


@dataclass(frozen=True)
class SchedulerReport:
    """What one scheduler invocation did.

    Attributes:
        deployments: Deployments looked at.
        runs_created: Scheduled runs created (runs that already existed are not counted).
        runs_deleted: Auto-scheduled runs removed because no active schedule wants them.
        late_runs_marked: Runs marked Late.
        dispatched: Runs handed to the push dispatcher.
        wrapped: True when the walk reached the last deployment (the next starts over).
        schedules_failed: Schedules that could not be planned (skipped; see the module doc).
        failed_schedules: The first `REPORTED_FAILURES` of them: ids, reason and message.
        out_of_time: True when the walk stopped early at `walk_seconds`.
    """

    deployments: int = 0
    runs_created: int = 0
    runs_deleted: int = 0
    late_runs_marked: int = 0
    dispatched: int = 0
    wrapped: bool = False
    schedules_failed: int = 0
    failed_schedules: tuple[ScheduleFailure, ...] = ()
    out_of_time: bool = False

    def metrics(self) -> dict[str, int]:
        """CloudWatch metric name → value (namespace `Stratoflow`)."""
        return {
            "RunsCreated": self.runs_created,
            "RunsDeleted": self.runs_deleted,
            "LateRunsMarked": self.late_runs_marked,
            "ScheduleFailures": self.schedules_failed,
            "RunsDispatched": self.dispatched,
        }


@dataclass
class _Walk:
    """Counters of the deployment walk, while it runs."""

    limits: SchedulerLimits
    clock: Clock = time.monotonic
    budget_clock: Clock = cpu_clock
    deployments: int = 0
    created: int = 0
    deleted: int = 0
    failures: list[ScheduleFailure] = field(default_factory=list)
    out_of_time: bool = False
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def bounds(self, settings: Settings) -> PlanBounds:
        """Runs per schedule: the settings', at most `limits.runs_per_schedule` if set."""
        most = settings.scheduler_max_runs
        if self.limits.runs_per_schedule is not None:
            most = min(most, self.limits.runs_per_schedule)
        least = min(settings.scheduler_min_runs, most)
        return PlanBounds(least, most, timedelta(days=settings.scheduler_horizon_days))

    def room(self) -> int:
        """Runs this call may still create."""
        return self.limits.runs_created - self.created

    def time_is_up(self) -> bool:
        """Whether the walk has used up `walk_seconds` (checked between pages)."""
        self.out_of_time = self.clock() - self.started >= self.limits.walk_seconds
        return self.out_of_time

    def failed(self, failure: ScheduleFailure) -> None:
        """Record a schedule that could not be planned, and log it (ids, never parameters)."""
        self.failures.append(failure)
        logger.warning(
            "schedule %s of deployment %s not planned (%s): %s",
            failure.schedule_id,
            failure.deployment_id,
            failure.reason,
            failure.message,
        )


def schedule_runs(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    dispatcher: Dispatcher | None = None,
    limits: SchedulerLimits | None = None,
    clock: Clock = time.monotonic,
    budget_clock: Clock = cpu_clock,
) -> SchedulerReport:
    """One scheduler tick.

    Args:
        store: The control plane's store.
        settings: Run bounds (`scheduler_min_runs/max_runs/horizon_days`), `late_after_seconds`.
        now: The current time (timezone-aware).
        dispatcher: Starts due push runs; by default nothing is dispatched.
        limits: Per-invocation bounds.
        clock: The monotonic clock `walk_seconds` runs on (wall time: the Lambda's timeout).
        budget_clock: The clock planning budgets run on (the thread's CPU time by default, so
            a busy machine never puts a valid schedule over its budget).

    Returns:
        Counts of what this call did, with the schedules it could not plan.
    """
    limits = limits or SchedulerLimits()
    towel = towel_repository(store)
    walk = _Walk(limits, clock, budget_clock)
    queues: set[str] = set()
    wrapped = _walk_deployments(store, towel, settings, now, walk, queues)
    late = mark_late_runs(
        store,
        towel,
        queues | store.work_queues.names(),
        now,
        settings.late_after_seconds,
        limits.late_candidates,
    )
    dispatched = (dispatcher or NoDispatch()).dispatch_due(now)
    return SchedulerReport(
        walk.deployments,
        walk.created,
        walk.deleted,
        late,
        dispatched,
        wrapped,
        schedules_failed=len(walk.failures),
        failed_schedules=tuple(walk.failures[:REPORTED_FAILURES]),
        out_of_time=walk.out_of_time,
    )


def _walk_deployments(
    store: Store,
    towel: TowelRepository,
    settings: Settings,
    now: datetime,
    walk: _Walk,
    queues: set[str],
) -> bool:
    """Walk deployments from the cursor until a budget runs out; True when the end was reached."""
    token = towel.cursor(SCHEDULER)
    while walk.deployments < walk.limits.deployments:
        size = min(walk.limits.page_size, walk.limits.deployments - walk.deployments)
        page = store.deployments.list(size, token)
        marks = towel.sweep_marks(d.id for d in page.items)
        for deployment in page.items:
            queues.add(deployment.work_queue)
            if not _step(store, towel, settings, deployment, marks.get(deployment.id), now, walk):
                towel.set_cursor(SCHEDULER, token)  # redo this page next tick
                return False
            walk.deployments += 1
        token = page.next_token
        towel.set_cursor(SCHEDULER, token)
        if token is None:
            return True
        if walk.time_is_up():
            return False
    return False


def schedule_deployment(
    store: Store,
    settings: Settings,
    deployment: Deployment,
    now: datetime,
    *,
    limits: SchedulerLimits | None = None,
    budget_clock: Clock = cpu_clock,
) -> SchedulerReport:
    """The tick's step for one deployment, at once: what creating, updating or resuming a
    deployment runs, so its first runs exist when the API answers, not at the next tick.

    The same step as the tick's (sweep, then the missing planned runs under the same
    idempotency keys), so the two never make a run twice; bounded like one deployment of a
    tick (its planning budget), and by default only the next `scheduler_min_runs` runs of
    each schedule, so the API answers quickly: the tick plans the rest of the horizon.
    """
    towel = towel_repository(store)
    first = SchedulerLimits(runs_per_schedule=max(settings.scheduler_min_runs, 1))
    walk = _Walk(limits or first, budget_clock=budget_clock)
    mark = towel.sweep_marks([deployment.id]).get(deployment.id)
    _step(store, towel, settings, deployment, mark, now, walk)
    return SchedulerReport(
        deployments=1,
        runs_created=walk.created,
        runs_deleted=walk.deleted,
        schedules_failed=len(walk.failures),
        failed_schedules=tuple(walk.failures[:REPORTED_FAILURES]),
    )


def _step(
    store: Store,
    towel: TowelRepository,
    settings: Settings,
    deployment: Deployment,
    mark: SweepMark | None,
    now: datetime,
    walk: _Walk,
) -> bool:
    """One deployment: remove runs no schedule wants, then create the missing planned runs;
    False when the run budget ran out first."""
    plan = plan_sweep(deployment, mark, now)
    if plan is not None:
        walk.deleted += sweep_deployment(towel, deployment, plan, now)
    return _fill(store, towel, settings, deployment, now, walk)


def _fill(
    store: Store,
    towel: TowelRepository,
    settings: Settings,
    deployment: Deployment,
    now: datetime,
    walk: _Walk,
) -> bool:
    """Create the deployment's missing planned runs; False when the run budget ran out first."""
    plan = plan_deployment(deployment, now, walk.bounds(settings), clock=walk.budget_clock)
    for failure in plan.failures:
        walk.failed(failure)
    planned = plan.runs
    if not planned:
        return True
    existing = towel.existing_keys((deployment.flow_id, p.idempotency_key) for p in planned)
    missing = [p for p in planned if (deployment.flow_id, p.idempotency_key) not in existing]
    room = walk.room()
    for entry in missing[: max(room, 0)]:
        walk.created += _create(store, deployment, entry, now)
    return len(missing) <= room


def scheduled_run(deployment: Deployment, planned: PlannedRun, now: datetime) -> FlowRun:
    """The SCHEDULED flow run a planned run becomes."""
    return scheduled_run_of(
        deployment,
        start=planned.start,
        parameters=planned.parameters,
        now=now,
        name=planned.name,
        idempotency_key=planned.idempotency_key,
        message="Scheduled by the scheduler",
    )


def _create(store: Store, deployment: Deployment, planned: PlannedRun, now: datetime) -> bool:
    try:
        _, created = store.flow_runs.create(scheduled_run(deployment, planned, now))
    except (ConflictError, ThrottledError):
        return False  # a rival invocation holds the key right now; it creates the run
    return created
