"""Removing auto-scheduled runs no schedule wants any more (paused deployment, inactive or
removed schedule).

Only runs the scheduler made (idempotency key `scheduled:…`) that have not started (SCHEDULED,
named Scheduled or Late, never run) are deleted, each with its idempotency key in one
conditional transaction; manual runs and retries are never touched. Because the key goes too,
resuming (or re-adding the schedule) lets the scheduler create the same runs again.

The sweep is costly (a query of the deployment's runs), so it runs only when the deployment
changed since the last sweep (its `updated` differs from the sweep mark), and, for a short
window afterwards, over the runs created recently: that catches runs a scheduler invocation
that read the deployment before the change created after the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from stratoflow.schemas import Deployment, FlowRun, StateName, StateType
from stratoflow_functions.errors import ThrottledError
from stratoflow_functions.services.towel.common import PAGE_SIZE
from stratoflow_functions.store.towel import SweepMark, TowelRepository

AUTO_SCHEDULED_PREFIX = "scheduled:"
RACE_WINDOW = timedelta(minutes=5)
"""Longer than one scheduler invocation can last (the Lambda timeout is 55 s)."""
NOT_STARTED = frozenset({StateName.SCHEDULED, StateName.LATE})


@dataclass(frozen=True)
class SweepPlan:
    """Which of a deployment's runs to look at: all of them, or those created since a time."""

    created_after: datetime | None
    full: bool


def plan_sweep(deployment: Deployment, mark: SweepMark | None, now: datetime) -> SweepPlan | None:
    """Whether (and how far back) to sweep a deployment's runs this tick; None: no need."""
    if mark is None and _never_changed(deployment):
        return None  # every run it ever had was planned by its current, active schedules
    if mark is None or mark.deployment_updated != deployment.updated:
        return SweepPlan(created_after=None, full=True)
    if now - mark.swept_at <= RACE_WINDOW:
        return SweepPlan(created_after=mark.swept_at - RACE_WINDOW, full=False)
    return None


def _never_changed(deployment: Deployment) -> bool:
    unchanged = deployment.updated == deployment.created
    return unchanged and not deployment.paused and all(e.active for e in deployment.schedules)


def schedule_id_of(idempotency_key: str) -> UUID | None:
    """The schedule id in `scheduled:{deployment}:{schedule}:{start}`, or None if not one."""
    parts = idempotency_key.split(":", 3)
    if len(parts) != 4 or parts[0] + ":" != AUTO_SCHEDULED_PREFIX:
        return None
    try:
        return UUID(parts[2])
    except ValueError:
        return None


def is_unwanted(run: FlowRun, deployment: Deployment) -> bool:
    """Whether `run` is an auto-scheduled, not-started run that no active schedule wants."""
    schedule_id = schedule_id_of(run.idempotency_key or "")
    if schedule_id is None or run.deployment_id != deployment.id:
        return False
    state = run.state
    if state.type is not StateType.SCHEDULED or state.name not in NOT_STARTED or run.run_count:
        return False
    if deployment.paused:
        return True
    return schedule_id not in {entry.id for entry in deployment.schedules if entry.active}


def sweep_deployment(
    towel: TowelRepository, deployment: Deployment, plan: SweepPlan, now: datetime
) -> int:
    """Delete the deployment's unwanted runs; a full sweep then records its mark.

    Returns:
        How many runs this call deleted (a run that moved meanwhile is skipped).
    """
    deleted = 0
    token: str | None = None
    while True:
        page = towel.scheduled_runs_of(deployment.id, plan.created_after, PAGE_SIZE, token)
        deleted += sum(_delete(towel, run) for run in page.items if is_unwanted(run, deployment))
        token = page.next_token
        if token is None:
            break
    if plan.full:
        towel.set_sweep_mark(deployment.id, SweepMark(deployment.updated, now))
    return deleted


def _delete(towel: TowelRepository, run: FlowRun) -> bool:
    try:
        return towel.delete_scheduled_run(run)
    except ThrottledError:
        return False  # a rival transaction on the same run; the next tick looks again
