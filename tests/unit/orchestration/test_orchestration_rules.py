"""One focused test per rule, accept and refuse paths, through `decide` and the rule itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stratoflow.orchestration import (
    FLOW_NOT_RUNNING_WAIT_SECONDS,
    TAG_SLOT_WAIT_SECONDS,
    CancellingOnlyEnds,
    ClaimOnlyOnce,
    EnforceTagConcurrency,
    FillScheduledTime,
    LateOnlyFromScheduled,
    PreventLeavingTerminalStates,
    Proposer,
    ReleaseTagSlots,
    RetryFailedFlowRuns,
    RunKind,
    TagSlots,
    TaskRunsNeedRunningFlow,
    UseCachedResult,
    WaitForScheduledTime,
    decide,
)
from stratoflow.schemas import TERMINAL_STATE_TYPES, DecisionStatus, ResultRef, State, StateType
from tests.unit.orchestration.orchestration_support import NOW, ctx, state, task_ctx

ACCEPT, REJECT, WAIT, ABORT = (
    DecisionStatus.ACCEPT,
    DecisionStatus.REJECT,
    DecisionStatus.WAIT,
    DecisionStatus.ABORT,
)
TERMINALS = sorted(TERMINAL_STATE_TYPES)
AWAITING_RETRY = state(StateType.SCHEDULED, "AwaitingRetry", scheduled_time=NOW)


# PreventLeavingTerminalStates


@pytest.mark.parametrize("terminal", TERMINALS)
@pytest.mark.parametrize("kind", list(RunKind))
def test_terminal_run_cannot_move(terminal: StateType, kind: RunKind) -> None:
    decision = decide(ctx(terminal, StateType.RUNNING, kind=kind, flow_run_state=StateType.RUNNING))
    assert decision.status is ABORT
    assert decision.rule == "PreventLeavingTerminalStates"
    assert "terminal" in (decision.reason or "")


@pytest.mark.parametrize("terminal", [StateType.FAILED, StateType.CRASHED])
def test_server_may_schedule_a_flow_retry_out_of_a_failure(terminal: StateType) -> None:
    decision = decide(ctx(terminal, AWAITING_RETRY, run_count=1, retries=1, control_plane=True))
    assert decision.status is ACCEPT
    assert decision.state == AWAITING_RETRY


@pytest.mark.parametrize("terminal", [StateType.COMPLETED, StateType.CANCELLED])
def test_server_cannot_retry_a_completed_or_cancelled_flow_run(terminal: StateType) -> None:
    decision = decide(ctx(terminal, AWAITING_RETRY, run_count=1, retries=1, control_plane=True))
    assert decision.status is ABORT


def test_server_retry_out_of_terminal_needs_retries_left() -> None:
    decision = decide(
        ctx(StateType.CRASHED, AWAITING_RETRY, run_count=2, retries=1, control_plane=True)
    )
    assert decision.status is ABORT


def test_client_cannot_schedule_a_retry_out_of_a_terminal_state() -> None:
    decision = decide(ctx(StateType.FAILED, AWAITING_RETRY, run_count=1, retries=3))
    assert decision.status is ABORT


def test_server_cannot_retry_a_finished_task_run() -> None:
    context = task_ctx(StateType.FAILED, AWAITING_RETRY, run_count=1, retries=3, control_plane=True)
    assert decide(context).status is ABORT


def test_terminal_rule_ignores_runs_that_are_not_finished() -> None:
    assert not PreventLeavingTerminalStates().applies(ctx(StateType.RUNNING, StateType.COMPLETED))


# ClaimOnlyOnce


@pytest.mark.parametrize("current", [None, StateType.SCHEDULED])
def test_pending_may_be_entered_from_nothing_or_scheduled(current: StateType | None) -> None:
    decision = decide(ctx(current, StateType.PENDING))
    assert decision.status is ACCEPT
    assert decision.state is not None
    assert decision.state.type is StateType.PENDING


@pytest.mark.parametrize(
    "current", [StateType.PENDING, StateType.RUNNING, StateType.PAUSED, StateType.CANCELLING]
)
def test_second_claim_is_aborted(current: StateType) -> None:
    decision = ClaimOnlyOnce().evaluate(ctx(current, StateType.PENDING))
    assert decision is not None
    assert decision.status is ABORT
    assert "already claimed" in (decision.reason or "")


def test_pending_to_pending_is_aborted_by_the_policy() -> None:
    decision = decide(ctx(StateType.PENDING, StateType.PENDING))
    assert (decision.status, decision.rule) == (ABORT, "ClaimOnlyOnce")


# RetryFailedFlowRuns


@pytest.mark.parametrize("name", ["Failed", "TimedOut"])
def test_failed_flow_run_with_retries_left_awaits_retry(name: str) -> None:
    failed = state(StateType.FAILED, name, message="boom")
    decision = decide(ctx(StateType.RUNNING, failed, run_count=1, retries=2, delays=[30, 90]))
    assert decision.status is REJECT
    assert decision.rule == "RetryFailedFlowRuns"
    assert decision.state is not None
    assert (decision.state.type, decision.state.name) == (StateType.SCHEDULED, "AwaitingRetry")
    assert decision.state.scheduled_time == NOW + timedelta(seconds=30)
    assert decision.state.timestamp == NOW
    assert "Retry 1 of 2" in (decision.state.message or "")
    assert "boom" in (decision.state.message or "")


def test_retry_delay_follows_the_attempt_number() -> None:
    decision = decide(
        ctx(StateType.RUNNING, StateType.FAILED, run_count=2, retries=3, delays=[30, 90])
    )
    assert decision.state is not None
    assert decision.state.scheduled_time == NOW + timedelta(seconds=90)
    assert "Retry 2 of 3" in (decision.state.message or "")


def test_failed_flow_run_without_retries_left_fails() -> None:
    decision = decide(ctx(StateType.RUNNING, StateType.FAILED, run_count=2, retries=1))
    assert decision.status is ACCEPT
    assert decision.state is not None
    assert decision.state.type is StateType.FAILED


def test_server_proposed_failure_is_not_retried() -> None:
    context = ctx(StateType.RUNNING, StateType.FAILED, run_count=1, retries=3, control_plane=True)
    assert RetryFailedFlowRuns().evaluate(context) is None
    assert decide(context).status is ACCEPT


def test_task_run_failures_are_not_retried_by_the_server() -> None:
    context = task_ctx(StateType.RUNNING, StateType.FAILED, run_count=1, retries=3)
    assert not RetryFailedFlowRuns().applies(context)
    assert decide(context).status is ACCEPT


# TaskRunsNeedRunningFlow


@pytest.mark.parametrize(
    "flow_state",
    [StateType.CANCELLING, StateType.CANCELLED, StateType.COMPLETED, StateType.FAILED],
)
def test_task_of_a_stopped_flow_run_is_not_started(flow_state: StateType) -> None:
    decision = decide(task_ctx(StateType.PENDING, StateType.RUNNING, flow_run_state=flow_state))
    assert (decision.status, decision.rule) == (ABORT, "TaskRunsNeedRunningFlow")
    assert flow_state.value.lower() in (decision.reason or "")
    assert "task not started" in (decision.reason or "")


@pytest.mark.parametrize(
    "flow_state", [None, StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED]
)
def test_task_waits_for_its_flow_run_to_run(flow_state: StateType | None) -> None:
    decision = decide(task_ctx(StateType.PENDING, StateType.RUNNING, flow_run_state=flow_state))
    assert decision.status is WAIT
    assert decision.delay_seconds == FLOW_NOT_RUNNING_WAIT_SECONDS


def test_task_of_a_running_flow_run_starts() -> None:
    context = task_ctx(StateType.PENDING, StateType.RUNNING)
    assert TaskRunsNeedRunningFlow().evaluate(context) is None
    assert decide(context).status is ACCEPT


def test_task_may_finish_while_its_flow_run_is_cancelling() -> None:
    context = task_ctx(StateType.RUNNING, StateType.COMPLETED, flow_run_state=StateType.CANCELLING)
    assert decide(context).status is ACCEPT


# EnforceTagConcurrency and ReleaseTagSlots


def test_tag_with_limit_zero_aborts_the_task() -> None:
    slots = (TagSlots("db", limit=2, active=0), TagSlots("gpu", limit=0, active=0))
    decision = decide(task_ctx(StateType.PENDING, StateType.RUNNING, tag_slots=slots))
    assert (decision.status, decision.rule) == (ABORT, "EnforceTagConcurrency")
    assert "gpu" in (decision.reason or "")


def test_full_tag_makes_the_task_wait() -> None:
    slots = (TagSlots("db", limit=2, active=0), TagSlots("gpu", limit=1, active=1))
    decision = decide(task_ctx(StateType.PENDING, StateType.RUNNING, tag_slots=slots))
    assert decision.status is WAIT
    assert decision.delay_seconds == TAG_SLOT_WAIT_SECONDS
    assert decision.acquire_slots == ()


def test_task_with_free_slots_takes_one_of_every_limited_tag() -> None:
    slots = (TagSlots("db", limit=2, active=1), TagSlots("gpu", limit=1, active=0))
    decision = decide(task_ctx(StateType.PENDING, StateType.RUNNING, tag_slots=slots))
    assert decision.status is ACCEPT
    assert decision.acquire_slots == ("db", "gpu")
    assert decision.release_slots is False


def test_task_already_holding_a_slot_of_a_full_tag_may_run() -> None:
    slots = (TagSlots("gpu", limit=1, active=1, holds_slot=True),)
    decision = EnforceTagConcurrency().evaluate(
        task_ctx(StateType.RUNNING, StateType.RUNNING, tag_slots=slots)
    )
    assert decision is not None
    assert decision.status is ACCEPT
    assert decision.acquire_slots == ("gpu",)


def test_task_without_limited_tags_takes_no_slot() -> None:
    context = task_ctx(StateType.PENDING, StateType.RUNNING)
    assert not EnforceTagConcurrency().applies(context)
    assert decide(context).acquire_slots == ()


@pytest.mark.parametrize(
    "proposed", [StateType.COMPLETED, StateType.FAILED, StateType.SCHEDULED, StateType.PAUSED]
)
def test_task_leaving_running_releases_its_slots(proposed: StateType) -> None:
    decision = decide(task_ctx(StateType.RUNNING, proposed))
    assert decision.status is ACCEPT
    assert decision.release_slots is True


def test_task_staying_running_keeps_its_slots() -> None:
    assert not ReleaseTagSlots().applies(task_ctx(StateType.RUNNING, StateType.RUNNING))
    assert decide(task_ctx(StateType.PENDING, StateType.COMPLETED)).release_slots is False


def test_refused_move_out_of_running_keeps_the_slots() -> None:
    decision = decide(task_ctx(StateType.RUNNING, StateType.PENDING))
    assert decision.status is ABORT
    assert decision.release_slots is False


# UseCachedResult


def _cached(expires_in: timedelta | None = timedelta(hours=1)) -> State:
    return state(
        StateType.COMPLETED,
        result=ResultRef(uri="s3://bucket/results/abc"),
        cache_key="extract-2026-03-01",
        cache_expiration=None if expires_in is None else NOW + expires_in,
        timestamp=NOW - timedelta(hours=2),
    )


def test_cache_hit_turns_running_into_cached() -> None:
    cached = _cached()
    decision = decide(task_ctx(StateType.PENDING, StateType.RUNNING, cached=cached))
    assert (decision.status, decision.rule) == (REJECT, "UseCachedResult")
    result = decision.state
    assert result is not None
    assert (result.type, result.name) == (StateType.COMPLETED, "Cached")
    assert result.result == cached.result
    assert result.cache_key == "extract-2026-03-01"
    assert result.cache_expiration == NOW + timedelta(hours=1)
    assert result.timestamp == NOW


def test_cache_hit_takes_no_tag_slot() -> None:
    slots = (TagSlots("db", limit=1, active=0),)
    context = task_ctx(StateType.PENDING, StateType.RUNNING, cached=_cached(), tag_slots=slots)
    decision = decide(context)
    assert decision.status is REJECT
    assert decision.acquire_slots == ()


def test_expired_cache_entry_is_ignored() -> None:
    context = task_ctx(StateType.PENDING, StateType.RUNNING, cached=_cached(timedelta(0)))
    assert not UseCachedResult().applies(context)
    assert decide(context).status is ACCEPT


def test_cancelled_flow_wins_over_a_cache_hit() -> None:
    context = task_ctx(
        StateType.PENDING,
        StateType.RUNNING,
        cached=_cached(None),
        flow_run_state=StateType.CANCELLING,
    )
    assert decide(context).status is ABORT


# CancellingOnlyEnds


@pytest.mark.parametrize("proposed", [StateType.CANCELLED, StateType.CRASHED])
def test_cancelling_run_may_end(proposed: StateType) -> None:
    assert decide(ctx(StateType.CANCELLING, proposed)).status is ACCEPT


@pytest.mark.parametrize(
    "proposed",
    [StateType.RUNNING, StateType.COMPLETED, StateType.FAILED, StateType.CANCELLING],
)
def test_cancelling_run_cannot_do_anything_else(proposed: StateType) -> None:
    decision = decide(ctx(StateType.CANCELLING, proposed))
    assert (decision.status, decision.rule) == (ABORT, "CancellingOnlyEnds")
    assert "cancelling" in (decision.reason or "")


def test_cancelling_rule_guards_only_cancelling_runs() -> None:
    assert not CancellingOnlyEnds().applies(ctx(StateType.RUNNING, StateType.CANCELLING))


# LateOnlyFromScheduled


def test_scheduled_run_may_be_marked_late_and_keeps_its_time() -> None:
    due = NOW - timedelta(minutes=1)
    current = state(StateType.SCHEDULED, scheduled_time=due)
    decision = decide(ctx(current, state(StateType.SCHEDULED, "Late"), control_plane=True))
    assert decision.status is ACCEPT
    assert decision.state is not None
    assert (decision.state.name, decision.state.scheduled_time) == ("Late", due)


@pytest.mark.parametrize("current", [None, StateType.PENDING, StateType.RUNNING])
def test_only_scheduled_runs_may_be_late(current: StateType | None) -> None:
    decision = decide(ctx(current, state(StateType.SCHEDULED, "Late")))
    assert (decision.status, decision.rule) == (ABORT, "LateOnlyFromScheduled")


def test_late_rule_ignores_other_scheduled_names() -> None:
    assert not LateOnlyFromScheduled().applies(ctx(StateType.RUNNING, StateType.SCHEDULED))


# WaitForScheduledTime


def test_flow_run_cannot_start_before_its_scheduled_time() -> None:
    current = state(
        StateType.SCHEDULED, "AwaitingRetry", scheduled_time=NOW + timedelta(seconds=42)
    )
    decision = decide(ctx(current, StateType.RUNNING))
    assert (decision.status, decision.rule) == (WAIT, "WaitForScheduledTime")
    assert decision.delay_seconds == 42


def test_due_flow_run_may_be_claimed() -> None:
    current = state(StateType.SCHEDULED, scheduled_time=NOW)
    context = ctx(current, StateType.PENDING)
    assert WaitForScheduledTime().evaluate(context) is None
    assert decide(context).status is ACCEPT


def test_task_runs_do_not_wait_for_their_scheduled_time() -> None:
    current = state(StateType.SCHEDULED, "AwaitingRetry", scheduled_time=NOW + timedelta(hours=1))
    assert decide(task_ctx(current, StateType.RUNNING)).status is ACCEPT


# FillScheduledTime


def test_scheduled_proposal_without_a_time_is_due_now() -> None:
    decision = decide(ctx(StateType.RUNNING, StateType.SCHEDULED))
    assert decision.status is ACCEPT
    assert decision.state is not None
    assert decision.state.scheduled_time == NOW


def test_scheduled_proposal_with_a_time_keeps_it() -> None:
    later = NOW + timedelta(hours=3)
    proposed = state(StateType.SCHEDULED, scheduled_time=later)
    assert not FillScheduledTime().applies(ctx(None, proposed))
    decision = decide(ctx(None, proposed))
    assert decision.state is not None
    assert decision.state.scheduled_time == later


# AwaitingRetryNeedsRetriesLeft


def test_server_cannot_retry_a_running_flow_run_without_retries_left() -> None:
    from datetime import UTC, datetime

    from stratoflow.orchestration import ProposalContext, RunKind, RunView, decide
    from stratoflow.schemas import DecisionStatus, RetryPolicy, State, StateType

    now = datetime(2026, 1, 1, tzinfo=UTC)
    retry = State(type=StateType.SCHEDULED, name="AwaitingRetry", scheduled_time=now)
    running = State(type=StateType.RUNNING)

    def propose(retries: int) -> DecisionStatus:
        run = RunView(
            kind=RunKind.FLOW, state=running, run_count=1, retry_policy=RetryPolicy(retries=retries)
        )
        ctx = ProposalContext(run=run, proposed=retry, now=now, proposer=Proposer.CONTROL_PLANE)
        return decide(ctx).status

    assert propose(retries=0) is DecisionStatus.ABORT
    assert propose(retries=1) is DecisionStatus.ACCEPT
