"""The zombie killer (SPEC 4, every 120 s): runs whose process stopped heartbeating.

A RUNNING flow run whose heartbeat is older than `zombie_threshold_seconds` has crashed, and
the killer proposes CRASHED like any other reporter of a crash (an agent, the engine): the flow
policy's `RetryCrashedFlowRuns` decides, in the same single write, whether it becomes
SCHEDULED/AwaitingRetry at now + its retry delay (retries left, on a work queue) or stays
CRASHED. A CANCELLING run with a stale heartbeat has nobody left to finish the cancellation: it
becomes CANCELLED. Either way the proposal service then closes the task runs the attempt left
open (`services.attempt_end`); should the killer die in between, the next attempt's start
closes what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stratoflow.orchestration import Proposer
from stratoflow.schemas import DecisionStatus, FlowRun, State, StateProposal, StateType
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import ConflictError, NotFoundError, ThrottledError
from stratoflow_functions.services.flow_run_states import propose_flow_run_state
from stratoflow_functions.services.towel.common import (
    NO_HEARTBEAT,
    bounded,
    heartbeat_cutoff,
    still_stale,
)
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
        retries_scheduled: Of those, runs the flow policy sent to AwaitingRetry.
        cancellations_finished: Stale CANCELLING runs made CANCELLED.
    """

    zombies_killed: int = 0
    retries_scheduled: int = 0
    cancellations_finished: int = 0

    def metrics(self) -> dict[str, int]:
        """CloudWatch metric name → value (namespace `Stratoflow`)."""
        return {"ZombiesKilled": self.zombies_killed}


def zombie_message(threshold_seconds: float) -> str:
    """The message of the CRASHED (or CANCELLED) state the zombie killer proposes."""
    return (
        f"{NO_HEARTBEAT} for more than {threshold_seconds:g}s; "
        "the process running this flow is presumed dead."
    )


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
    killed = retried = 0
    crashed = State(type=StateType.CRASHED, timestamp=now, message=message)
    for run in _stale(store, StateType.RUNNING, cutoff, limits.runs):
        fresh = still_stale(store, run, StateType.RUNNING, cutoff)
        taken = None if fresh is None else _propose(store, fresh, crashed, now)
        if taken is not None:
            killed += 1
            retried += taken.type is StateType.SCHEDULED
    cancelled = _finish_cancellations(store, now, cutoff, message, limits.runs)
    return ZombieReport(killed, retried, cancelled)


def _propose(store: Store, run: FlowRun, state: State, now: datetime) -> State | None:
    """Propose `state` at the version read; the state the run took, None if it moved first."""
    proposal = StateProposal(state=state, expected_version=run.version)
    try:
        answer = propose_flow_run_state(
            store, run.id, proposal, now, proposer=Proposer.CONTROL_PLANE
        )
    except (ConflictError, NotFoundError, ThrottledError):
        return None  # lost a race: someone else moved the run; next tick sees the truth
    if answer.status not in (DecisionStatus.ACCEPT, DecisionStatus.REJECT):
        return None
    return answer.state


def _finish_cancellations(
    store: Store, now: datetime, cutoff: datetime, message: str, budget: int
) -> int:
    done = 0
    cancelled = State(type=StateType.CANCELLED, timestamp=now, message=message)
    for run in _stale(store, StateType.CANCELLING, cutoff, budget):
        fresh = still_stale(store, run, StateType.CANCELLING, cutoff)
        taken = None if fresh is None else _propose(store, fresh, cancelled, now)
        done += taken is not None and taken.type is StateType.CANCELLED
    return done


def _stale(store: Store, state: StateType, cutoff: datetime, budget: int) -> list[FlowRun]:
    # Read the page list first: proposals move runs out of the index being paged.
    return list(
        bounded(lambda limit, token: store.flow_runs.stale(state, cutoff, limit, token), budget)
    )
