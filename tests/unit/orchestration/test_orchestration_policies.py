"""The policies: which rules run for which run kind, in which order, and how answers combine."""

from __future__ import annotations

from stratoflow.orchestration import (
    FLOW_RUN_POLICY,
    TASK_RUN_POLICY,
    Decision,
    ProposalContext,
    RunKind,
    TagSlots,
    TransitionRule,
    decide,
    policy_for,
)
from stratoflow.schemas import DecisionStatus, StateType
from tests.unit.orchestration.orchestration_support import NOW, ctx, state, task_ctx


def _names(policy: tuple[TransitionRule, ...]) -> list[str]:
    return [rule.name for rule in policy]


def test_flow_run_policy_order() -> None:
    assert _names(FLOW_RUN_POLICY) == [
        "PreventLeavingTerminalStates",
        "CancellingOnlyEnds",
        "ClaimOnlyOnce",
        "LateOnlyFromScheduled",
        "WaitForScheduledTime",
        "RetryFailedFlowRuns",
        "RetryCrashedFlowRuns",
        "AwaitingRetryNeedsRetriesLeft",
        "FillScheduledTime",
    ]


def test_task_run_policy_order() -> None:
    assert _names(TASK_RUN_POLICY) == [
        "PreventLeavingTerminalStates",
        "CancellingOnlyEnds",
        "ClaimOnlyOnce",
        "LateOnlyFromScheduled",
        "TaskRunsNeedRunningFlow",
        "UseCachedResult",
        "EnforceTagConcurrency",
        "ReleaseTagSlots",
        "FillScheduledTime",
    ]


def test_policy_is_picked_by_run_kind() -> None:
    assert policy_for(RunKind.FLOW) is FLOW_RUN_POLICY
    assert policy_for(RunKind.TASK) is TASK_RUN_POLICY
    failing = ctx(StateType.RUNNING, StateType.FAILED, run_count=1, retries=1)
    assert decide(failing).status is DecisionStatus.REJECT
    failing_task = task_ctx(StateType.RUNNING, StateType.FAILED, run_count=1, retries=1)
    assert decide(failing_task).status is DecisionStatus.ACCEPT


def test_plain_acceptance_returns_the_proposal_unchanged() -> None:
    proposed = state(StateType.COMPLETED, message="done")
    decision = decide(ctx(StateType.RUNNING, proposed))
    assert decision == Decision(status=DecisionStatus.ACCEPT, state=proposed)


class _Refuse(TransitionRule):
    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        return Decision(status=DecisionStatus.ABORT, reason="first")


class _RefuseToo(TransitionRule):
    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        return Decision(status=DecisionStatus.WAIT, delay_seconds=1, reason="second")


class _NoOpinion(TransitionRule):
    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        return None


class _AddSlot(TransitionRule):
    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        return Decision(status=DecisionStatus.ACCEPT, acquire_slots=("a",))


def test_first_refusal_wins_and_names_its_rule() -> None:
    decision = decide(ctx(None, StateType.PENDING), (_NoOpinion(), _Refuse(), _RefuseToo()))
    assert decision.status is DecisionStatus.ABORT
    assert (decision.reason, decision.rule) == ("first", "_Refuse")


def test_acceptances_add_up_without_duplicates() -> None:
    decision = decide(ctx(None, StateType.PENDING), (_AddSlot(), _NoOpinion(), _AddSlot()))
    assert decision.status is DecisionStatus.ACCEPT
    assert decision.acquire_slots == ("a",)
    assert decision.rule is None


def test_amended_proposal_is_seen_by_later_rules() -> None:
    # FillScheduledTime completes the state; a rule after it must see the completed one.
    seen: list[object] = []

    class _Spy(TransitionRule):
        def evaluate(self, ctx: ProposalContext) -> Decision | None:
            seen.append(ctx.proposed.scheduled_time)
            return None

    policy = (*FLOW_RUN_POLICY, _Spy())
    decision = decide(ctx(StateType.RUNNING, StateType.SCHEDULED), policy)
    assert seen == [NOW]
    assert decision.state is not None
    assert decision.state.scheduled_time == NOW


def test_rule_outside_its_guard_is_not_run() -> None:
    class _OnlyFromPaused(_Refuse):
        FROM_STATES = frozenset({StateType.PAUSED})

    assert decide(ctx(None, StateType.PENDING), (_OnlyFromPaused(),)).status is (
        DecisionStatus.ACCEPT
    )
    assert decide(ctx(StateType.PAUSED, StateType.RUNNING), (_OnlyFromPaused(),)).status is (
        DecisionStatus.ABORT
    )


def test_reject_moving_a_task_out_of_running_releases_its_slots() -> None:
    class _SendBack(TransitionRule):
        def evaluate(self, ctx: ProposalContext) -> Decision | None:
            return Decision(status=DecisionStatus.REJECT, state=state(StateType.SCHEDULED))

    decision = decide(task_ctx(StateType.RUNNING, StateType.FAILED), (_SendBack(),))
    assert decision.status is DecisionStatus.REJECT
    assert decision.release_slots is True


def test_task_start_with_slots_accepts_and_acquires() -> None:
    slots = (TagSlots("db", limit=3, active=2),)
    decision = decide(task_ctx(StateType.PENDING, StateType.RUNNING, tag_slots=slots))
    assert decision.changes_state
    assert decision.acquire_slots == ("db",)
    assert decision.state is not None
    assert decision.state.type is StateType.RUNNING
