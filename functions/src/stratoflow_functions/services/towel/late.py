"""Marking SCHEDULED runs Late: more than `late_after_seconds` past their start and unclaimed.

A server proposal of SCHEDULED/Late that keeps the run's scheduled time, conditional on the
version read; a run claimed meanwhile is skipped. Only runs named `Scheduled` are candidates
(AwaitingRetry keeps its name, as in Prefect).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from stratoflow.schemas import FlowRun, State, StateName, StateType
from stratoflow_functions.scheduling.scheduler_plan import is_late
from stratoflow_functions.services.towel.common import Pager, bounded, propose_flow
from stratoflow_functions.store import Store
from stratoflow_functions.store.run_items import due_time
from stratoflow_functions.store.towel import TowelRepository


def late_state(run: FlowRun, now: datetime) -> State:
    """The Late state for `run`, due when it was due."""
    return State(
        type=StateType.SCHEDULED,
        name=StateName.LATE,
        timestamp=now,
        message=f"Not started {int((now - due_time(run)).total_seconds())}s after its start time",
        scheduled_time=due_time(run),
    )


def mark_late_runs(
    store: Store,
    towel: TowelRepository,
    queues: Iterable[str],
    now: datetime,
    late_after_seconds: float,
    budget: int,
) -> int:
    """Mark the late runs of `queues`, oldest first, at most `budget` reads in all.

    Returns:
        How many runs this call marked Late.
    """
    before = now - timedelta(seconds=late_after_seconds)
    marked = 0
    left = budget
    for queue in sorted(set(queues)):
        candidates = list(bounded(_unmarked(towel, queue, before), left))
        left -= len(candidates)
        marked += sum(_mark(store, run, now, late_after_seconds) for run in candidates)
        if left <= 0:
            break
    return marked


def _unmarked(towel: TowelRepository, queue: str, before: datetime) -> Pager:
    return lambda limit, token: towel.unmarked_due(queue, before, limit, token)


def _mark(store: Store, run: FlowRun, now: datetime, late_after_seconds: float) -> bool:
    if not is_late(due_time(run), now, late_after_seconds):
        return False
    return propose_flow(store, run, late_state(run, now), now)
