"""Lazarus (SPEC 4, every 10 min): runs stuck PENDING or RUNNING with no sign of life.

A PENDING run whose heartbeat (or claim) is older than `zombie_threshold_seconds`, or a
RUNNING one older than twice that, with no PENDING or RUNNING task runs, is SCHEDULED again,
due now, with `resurrections + 1`; after `lazarus_max_resurrections` it is FAILED instead. The
zombie killer owns RUNNING runs (it acts at the threshold, Lazarus only at twice it, as a
backstop when the killer could not act); should both act at once, the version-conditional
write lets one win and the other skips. A run without a work queue (a flow called directly,
not from a deployment) cannot be picked up again, so it is CRASHED instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stratoflow.orchestration import Proposer, plan_flow_run
from stratoflow.schemas import DecisionStatus, FlowRun, State, StateType
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import ConflictError, ThrottledError
from stratoflow_functions.services.towel.common import (
    NO_HEARTBEAT,
    Pager,
    bounded,
    has_active_task_runs,
    heartbeat_cutoff,
    propose_flow,
    still_stale,
)
from stratoflow_functions.store import Store


@dataclass(frozen=True)
class LazarusLimits:
    """Bounds of one invocation, and how much later than the zombie killer RUNNING runs count."""

    runs: int = 500
    running_threshold_factor: float = 2.0


@dataclass(frozen=True)
class LazarusReport:
    """What one Lazarus invocation did.

    Attributes:
        runs_resurrected: Runs SCHEDULED again.
        runs_failed: Runs FAILED after too many resurrections.
        runs_crashed: Stuck runs with no work queue to go back to, CRASHED.
    """

    runs_resurrected: int = 0
    runs_failed: int = 0
    runs_crashed: int = 0

    def metrics(self) -> dict[str, int]:
        """CloudWatch metric name → value (namespace `Stratoflow`)."""
        return {"RunsResurrected": self.runs_resurrected}


def given_up_message(resurrections: int) -> str:
    """The FAILED message once the resurrections are used up."""
    return (
        f"{NO_HEARTBEAT} and no progress: the run was rescheduled {resurrections} times "
        "by Lazarus and is given up."
    )


def resurrected_state(run: FlowRun, now: datetime) -> State:
    """SCHEDULED again, due now."""
    attempt = run.resurrections + 1
    return State(
        type=StateType.SCHEDULED,
        timestamp=now,
        scheduled_time=now,
        message=f"{NO_HEARTBEAT} and no progress; rescheduled by Lazarus (resurrection {attempt}).",
    )


def resurrect(
    store: Store, settings: Settings, now: datetime, *, limits: LazarusLimits | None = None
) -> LazarusReport:
    """One Lazarus tick.

    Args:
        store: The control plane's store.
        settings: `zombie_threshold_seconds`, `lazarus_max_resurrections`.
        now: The current time (timezone-aware).
        limits: Per-invocation bounds.

    Returns:
        Counts of what this call did.
    """
    limits = limits or LazarusLimits()
    threshold = settings.zombie_threshold_seconds
    counts = {"resurrected": 0, "failed": 0, "crashed": 0}
    for state_type, seconds in (
        (StateType.PENDING, threshold),
        (StateType.RUNNING, threshold * limits.running_threshold_factor),
    ):
        cutoff = heartbeat_cutoff(now, seconds)
        pager = _pager(store, state_type, cutoff)
        for run in list(bounded(pager, limits.runs)):
            outcome = _revive(store, settings, run, state_type, cutoff, now)
            if outcome is not None:
                counts[outcome] += 1
    return LazarusReport(counts["resurrected"], counts["failed"], counts["crashed"])


def _pager(store: Store, state_type: StateType, cutoff: datetime) -> Pager:
    return lambda limit, token: store.flow_runs.stale(state_type, cutoff, limit, token)


def _revive(
    store: Store,
    settings: Settings,
    run: FlowRun,
    state_type: StateType,
    cutoff: datetime,
    now: datetime,
) -> str | None:
    fresh = still_stale(store, run, state_type, cutoff)
    if fresh is None or has_active_task_runs(store, fresh.id):
        return None
    if fresh.work_queue is None:
        crashed = State(
            type=StateType.CRASHED,
            timestamp=now,
            message=f"{NO_HEARTBEAT}; the run has no work queue to be rescheduled on.",
        )
        return "crashed" if propose_flow(store, fresh, crashed, now) else None
    if fresh.resurrections >= settings.lazarus_max_resurrections:
        failed = State(
            type=StateType.FAILED, timestamp=now, message=given_up_message(fresh.resurrections)
        )
        return "failed" if propose_flow(store, fresh, failed, now) else None
    return "resurrected" if _reschedule(store, fresh, now) else None


def _reschedule(store: Store, run: FlowRun, now: datetime) -> bool:
    """SCHEDULED with one more resurrection: the kernel plans it (`resurrect=True`), and the
    store applies the run's write and the slots it gives back in one transaction (the
    proposal service does not count resurrections, so the plan is applied here)."""
    plan = plan_flow_run(
        run, resurrected_state(run, now), now, proposer=Proposer.CONTROL_PLANE, resurrect=True
    )
    if plan.decision.status is not DecisionStatus.ACCEPT or plan.run is None:
        return False
    try:
        store.flow_runs.apply(plan)
    except (ConflictError, ThrottledError):
        return False
    return True
