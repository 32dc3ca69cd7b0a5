"""Rules for flow runs only: server-side retries and honouring a run's scheduled time.

Flow-run retries (after a failure or a crash) are decided here, on the server, so a retry
survives the process that ran the flow; task-run retries are decided by the engine and only
recorded on the server (SPEC 2).
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from stratoflow.orchestration.common_rules import retries_remain
from stratoflow.orchestration.context import Decision, ProposalContext, RunKind
from stratoflow.orchestration.rules import (
    TransitionRule,
    abort,
    new_state,
    reject,
    wait,
)
from stratoflow.schemas import StateName, StateType

FLOW_ONLY: frozenset[RunKind] = frozenset({RunKind.FLOW})


def retry_decision(ctx: ProposalContext) -> Decision:
    """The one retry answer for a flow run whose attempt just ended: REJECT → AwaitingRetry.

    `run_count` counts RUNNING entries, so the attempt that ended is attempt `run_count`; the
    retry is due at `now + retry_policy.delay_for(run_count)`. Both retry rules answer with
    this, so a failure and a crash, whoever reports them, are retried the same way. The retry
    is counted when the next attempt enters RUNNING, never here.
    """
    policy = ctx.run.retry_policy
    attempt = ctx.run.run_count
    delay = policy.delay_for(attempt)
    message = f"Retry {attempt} of {policy.retries} in {delay:g}s"
    if ctx.proposed.message:
        message += f" after: {ctx.proposed.message}"
    retry = new_state(
        StateType.SCHEDULED,
        StateName.AWAITING_RETRY,
        ctx.now,
        message,
        scheduled_time=ctx.now + timedelta(seconds=delay),
    )
    return reject(retry, f"retries remain ({attempt} of {policy.retries} used)")


class RetryFailedFlowRuns(TransitionRule):
    """RUNNING → FAILED (Failed or TimedOut) with retries left becomes AwaitingRetry.

    A FAILED the server proposes itself (Lazarus giving up) is final: the server has already
    decided. The answer is `retry_decision`'s.
    """

    KINDS: ClassVar[frozenset[RunKind]] = FLOW_ONLY
    FROM_STATES: ClassVar[frozenset[StateType | None]] = frozenset({StateType.RUNNING})
    TO_STATES: ClassVar[frozenset[StateType]] = frozenset({StateType.FAILED})

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """REJECT with SCHEDULED/AwaitingRetry while retries remain; no opinion otherwise."""
        if ctx.from_control_plane or not retries_remain(ctx):
            return None
        return retry_decision(ctx)


class RetryCrashedFlowRuns(TransitionRule):
    """RUNNING → CRASHED with retries left becomes AwaitingRetry, for a run on a work queue.

    A crash is a crash whoever reports it: the engine (on SIGTERM), the agent that saw the
    process end, the zombie killer that saw its heartbeat stop, or a launcher. They all
    propose CRASHED and this rule decides. Only a run on a work queue is retried: someone
    (an agent, the dispatcher) claims its next attempt, while a flow called directly has no
    one left to run it once its process is gone. A crash before RUNNING (PENDING) is not
    retried: no attempt was counted, so retrying it could loop forever.
    """

    KINDS: ClassVar[frozenset[RunKind]] = FLOW_ONLY
    FROM_STATES: ClassVar[frozenset[StateType | None]] = frozenset({StateType.RUNNING})
    TO_STATES: ClassVar[frozenset[StateType]] = frozenset({StateType.CRASHED})

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """REJECT with SCHEDULED/AwaitingRetry while retries remain; no opinion otherwise."""
        if not ctx.run.on_work_queue or not retries_remain(ctx):
            return None
        return retry_decision(ctx)


class AwaitingRetryNeedsRetriesLeft(TransitionRule):
    """A flow run is put in AwaitingRetry only while its retry policy has attempts left.

    Whoever proposes the retry (the zombie killer for a run whose heartbeat stopped, say), a
    run never gets more RUNNING entries than `retries + 1`.
    """

    KINDS: ClassVar[frozenset[RunKind]] = FLOW_ONLY
    FROM_STATES: ClassVar[frozenset[StateType | None]] = frozenset(
        {StateType.PENDING, StateType.RUNNING, StateType.FAILED, StateType.CRASHED}
    )
    TO_STATES: ClassVar[frozenset[StateType]] = frozenset({StateType.SCHEDULED})

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """ABORT an AwaitingRetry with no retries left; no opinion otherwise."""
        if ctx.proposed.name != StateName.AWAITING_RETRY or retries_remain(ctx):
            return None
        policy = ctx.run.retry_policy
        return abort(f"no retries left ({ctx.run.run_count} runs, {policy.retries} retries)")


class WaitForScheduledTime(TransitionRule):
    """A scheduled flow run cannot be claimed or started before its scheduled time.

    Prefect's rule of the same idea: a retry delay is honoured even if something tries to
    start the run early. Claims only pick due runs, so in practice this answers engines that
    propose RUNNING early (the answer is WAIT for the time left). An agent's claim ahead
    (`claim_ahead_until`, its prefetch window) may take a run due by then to PENDING early:
    its process then waits for the scheduled time itself.
    """

    KINDS: ClassVar[frozenset[RunKind]] = FLOW_ONLY
    FROM_STATES: ClassVar[frozenset[StateType | None]] = frozenset({StateType.SCHEDULED})
    TO_STATES: ClassVar[frozenset[StateType]] = frozenset({StateType.PENDING, StateType.RUNNING})

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """WAIT until the scheduled time when it is still ahead; no opinion otherwise."""
        current = ctx.run.state
        due = current.scheduled_time if current is not None else None
        if due is None or due <= ctx.now:
            return None
        ahead = ctx.claim_ahead_until
        if ctx.proposed.type is StateType.PENDING and ahead is not None and due <= ahead:
            return None
        seconds = (due - ctx.now).total_seconds()
        return wait(seconds, f"run is scheduled for {due.isoformat()}")


__all__ = [
    "FLOW_ONLY",
    "AwaitingRetryNeedsRetriesLeft",
    "RetryCrashedFlowRuns",
    "RetryFailedFlowRuns",
    "WaitForScheduledTime",
    "retry_decision",
]
