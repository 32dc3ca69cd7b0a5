"""The scheduler (SPEC 4, every 60 s): keep each active schedule's next runs created, remove
runs no schedule wants, mark Late runs, and hand due push runs to a dispatcher.

Decide first, then act: `plan_runs` says which runs a deployment should have, one consistent
batch read says which idempotency keys exist, and only the missing runs are created, each with
its key `scheduled:{deployment}:{schedule}:{UTC start}`, so overlapping invocations never make
a run twice. Work is bounded per call (deployments walked, runs created, Late candidates read);
the walk resumes from a cursor item on the next tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from stratoflow.schemas import Deployment, FlowRun
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import ConflictError, ThrottledError
from stratoflow_functions.orchestration.scheduler_plan import PlannedRun, plan_runs
from stratoflow_functions.services.flow_runs import scheduled_run_of
from stratoflow_functions.services.towel.common import PAGE_SIZE
from stratoflow_functions.services.towel.late import mark_late_runs
from stratoflow_functions.services.towel.sweep import plan_sweep, sweep_deployment
from stratoflow_functions.store import Store
from stratoflow_functions.store.towel import TowelRepository, towel_repository

SCHEDULER = "scheduler"


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
    """How much one invocation may do; what is left waits for the next tick."""

    deployments: int = 1000
    runs_created: int = 2000
    late_candidates: int = 1000
    page_size: int = PAGE_SIZE


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
    """

    deployments: int = 0
    runs_created: int = 0
    runs_deleted: int = 0
    late_runs_marked: int = 0
    dispatched: int = 0
    wrapped: bool = False

    def metrics(self) -> dict[str, int]:
        """CloudWatch metric name → value (namespace `Stratoflow`)."""
        return {
            "RunsCreated": self.runs_created,
            "RunsDeleted": self.runs_deleted,
            "LateRunsMarked": self.late_runs_marked,
        }


@dataclass
class _Walk:
    """Counters of the deployment walk, while it runs."""

    limits: SchedulerLimits
    deployments: int = 0
    created: int = 0
    deleted: int = 0
    out_of_budget: bool = False

    def room(self) -> int:
        """Runs this call may still create."""
        return self.limits.runs_created - self.created


def schedule_runs(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    dispatcher: Dispatcher | None = None,
    limits: SchedulerLimits | None = None,
) -> SchedulerReport:
    """One scheduler tick.

    Args:
        store: The control plane's store.
        settings: Run bounds (`scheduler_min_runs/max_runs/horizon_days`), `late_after_seconds`.
        now: The current time (timezone-aware).
        dispatcher: Starts due push runs; by default nothing is dispatched.
        limits: Per-invocation bounds.

    Returns:
        Counts of what this call did.
    """
    limits = limits or SchedulerLimits()
    towel = towel_repository(store)
    walk = _Walk(limits)
    queues: set[str] = set()
    wrapped = _walk_deployments(store, towel, settings, now, walk, queues)
    late = mark_late_runs(
        store,
        towel,
        queues | _listed_queues(store),
        now,
        settings.late_after_seconds,
        limits.late_candidates,
    )
    dispatched = (dispatcher or NoDispatch()).dispatch_due(now)
    return SchedulerReport(walk.deployments, walk.created, walk.deleted, late, dispatched, wrapped)


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
            plan = plan_sweep(deployment, marks.get(deployment.id), now)
            if plan is not None:
                walk.deleted += sweep_deployment(towel, deployment, plan, now)
            if not _fill(store, towel, settings, deployment, now, walk):
                towel.set_cursor(SCHEDULER, token)  # redo this page next tick
                return False
            walk.deployments += 1
        token = page.next_token
        towel.set_cursor(SCHEDULER, token)
        if token is None:
            return True
    return False


def _fill(
    store: Store,
    towel: TowelRepository,
    settings: Settings,
    deployment: Deployment,
    now: datetime,
    walk: _Walk,
) -> bool:
    """Create the deployment's missing planned runs; False when the run budget ran out first."""
    planned = plan_runs(
        deployment,
        now,
        min_runs=settings.scheduler_min_runs,
        max_runs=settings.scheduler_max_runs,
        horizon=timedelta(days=settings.scheduler_horizon_days),
    )
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


def _listed_queues(store: Store) -> set[str]:
    names: set[str] = set()
    token: str | None = None
    while True:
        page = store.work_queues.list(PAGE_SIZE, token)
        names.update(queue.name for queue in page.items)
        token = page.next_token
        if token is None:
            return names
