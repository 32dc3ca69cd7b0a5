"""The zombie killer (SPEC 4, every 120 s): runs whose process stopped heartbeating.

A RUNNING flow run whose heartbeat is older than `zombie_threshold_seconds` is CRASHED, or, if
its flow retries remain (`run_count <= retries`), goes straight to SCHEDULED/AwaitingRetry at
now + its retry delay: one atomic proposal, so a killer that dies half-way never leaves a
crashed run that should have been retried (the flow policy's retry rule only guards FAILED).
Its RUNNING task runs then become AwaitingRetry (flow retried) or Failed, with the same
message. A CANCELLING run with a stale heartbeat has nobody left to finish the cancellation:
it becomes CANCELLED (and its RUNNING task runs too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from stratoflow.schemas import FlowRun, State, StateType
from stratoflow_functions.config import Settings
from stratoflow_functions.orchestration.common_rules import AWAITING_RETRY
from stratoflow_functions.services.towel.common import (
    NO_HEARTBEAT,
    bounded,
    finish_running_tasks,
    heartbeat_cutoff,
    propose_flow,
    still_stale,
)
from stratoflow_functions.services.towel.slots import sweep_finished_slots
from stratoflow_functions.store import Store


@dataclass(frozen=True)
class ZombieLimits:
    """How many stale runs (of each state) one invocation reads; the rest wait a tick."""

    runs: int = 500


@dataclass(frozen=True)
class ZombieReport:
    """What one zombie-killer invocation did.

    Attributes:
        zombies_killed: RUNNING runs moved off RUNNING (crashed or sent to retry).
        retries_scheduled: Of those, runs sent to AwaitingRetry.
        task_runs_updated: RUNNING task runs of those runs moved on.
        cancellations_finished: Stale CANCELLING runs made CANCELLED.
        slots_released: Concurrency slots given back for runs that had finished.
    """

    zombies_killed: int = 0
    retries_scheduled: int = 0
    task_runs_updated: int = 0
    cancellations_finished: int = 0
    slots_released: int = 0

    def metrics(self) -> dict[str, int]:
        """CloudWatch metric name → value (namespace `Stratoflow`)."""
        return {"ZombiesKilled": self.zombies_killed}


def zombie_message(threshold_seconds: float) -> str:
    """The message every state the zombie killer sets carries."""
    return (
        f"{NO_HEARTBEAT} for more than {threshold_seconds:g}s; "
        "the process running this flow is presumed dead."
    )


def will_retry(run: FlowRun) -> bool:
    """Whether a run leaving RUNNING now may run again (run_count counts RUNNING entries)."""
    return run.run_count <= run.retry_policy.retries


def zombie_flow_state(run: FlowRun, now: datetime, message: str) -> State:
    """AwaitingRetry at now + the retry delay when retries remain, else Crashed."""
    if not will_retry(run):
        return State(type=StateType.CRASHED, timestamp=now, message=message)
    delay = run.retry_policy.delay_for(run.run_count)
    return State(
        type=StateType.SCHEDULED,
        name=AWAITING_RETRY,
        timestamp=now,
        message=f"{message} Retry {run.run_count} of {run.retry_policy.retries}.",
        scheduled_time=now + timedelta(seconds=delay),
    )


def zombie_task_state(flow_retried: bool, now: datetime, message: str) -> State:
    """What a zombie's RUNNING task runs become."""
    if flow_retried:
        return State(
            type=StateType.SCHEDULED,
            name=AWAITING_RETRY,
            timestamp=now,
            message=message,
            scheduled_time=now,
        )
    return State(type=StateType.FAILED, timestamp=now, message=message)


def kill_zombies(
    store: Store, settings: Settings, now: datetime, *, limits: ZombieLimits | None = None
) -> ZombieReport:
    """One zombie-killer tick.

    Args:
        store: The control plane's store.
        settings: `zombie_threshold_seconds`.
        now: The current time (timezone-aware).
        limits: Per-invocation bounds.

    Returns:
        Counts of what this call did.
    """
    limits = limits or ZombieLimits()
    threshold = settings.zombie_threshold_seconds
    cutoff = heartbeat_cutoff(now, threshold)
    message = zombie_message(threshold)
    killed = retried = tasks = 0
    for run in _stale(store, StateType.RUNNING, cutoff, limits.runs):
        fresh = still_stale(store, run, StateType.RUNNING, cutoff)
        if fresh is None:
            continue
        state = zombie_flow_state(fresh, now, message)
        if not propose_flow(store, fresh, state, now):
            continue
        killed += 1
        retried += state.type is StateType.SCHEDULED
        task_state = zombie_task_state(state.type is StateType.SCHEDULED, now, message)
        tasks += finish_running_tasks(store, fresh.id, task_state, now)
    cancelled, cancelled_tasks = _finish_cancellations(store, now, cutoff, message, limits.runs)
    released = sweep_finished_slots(store)
    return ZombieReport(killed, retried, tasks + cancelled_tasks, cancelled, released)


def _finish_cancellations(
    store: Store, now: datetime, cutoff: datetime, message: str, budget: int
) -> tuple[int, int]:
    done = tasks = 0
    cancelled = State(type=StateType.CANCELLED, timestamp=now, message=message)
    for run in _stale(store, StateType.CANCELLING, cutoff, budget):
        fresh = still_stale(store, run, StateType.CANCELLING, cutoff)
        if fresh is None or not propose_flow(store, fresh, cancelled, now):
            continue
        done += 1
        tasks += finish_running_tasks(store, fresh.id, cancelled, now)
    return done, tasks


def _stale(store: Store, state: StateType, cutoff: datetime, budget: int) -> list[FlowRun]:
    # Read the page list first: proposals move runs out of the index being paged.
    return list(
        bounded(lambda limit, token: store.flow_runs.stale(state, cutoff, limit, token), budget)
    )
