"""The two orchestration policies (ordered rule lists) and `decide`, their single entry point.

The service layer reads a `ProposalContext`, calls `decide`, and persists the `Decision` with
one version-conditional write (and the slot actions it names). `decide` picks the policy by
run kind and runs the rules that guard the transition, in order. The first rule that answers
REJECT, WAIT or ABORT wins. An ACCEPT answer amends the proposal (later rules see the amended
state) and adds slot actions; when no rule refuses, the answer is ACCEPT with the amended
proposal and every slot action collected.

Order matters: refusals that keep the run where it is come first (terminal, cancelling,
claims), then rules that wait, then rules that replace the proposal (cache), and last the
rules that only amend an acceptance (slots, scheduled time), so a cache hit never takes a
slot and a refused proposal never changes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from stratoflow.orchestration.common_rules import (
    CancellingOnlyEnds,
    ClaimOnlyOnce,
    FillScheduledTime,
    LateOnlyFromScheduled,
    PreventLeavingTerminalStates,
)
from stratoflow.orchestration.context import Decision, ProposalContext, RunKind, TaskTraits
from stratoflow.orchestration.flow_rules import (
    AwaitingRetryNeedsRetriesLeft,
    RetryCrashedFlowRuns,
    RetryFailedFlowRuns,
    WaitForScheduledTime,
)
from stratoflow.orchestration.rules import TransitionRule, leaves_running
from stratoflow.orchestration.task_rules import (
    EnforceTagConcurrency,
    ReleaseTagSlots,
    TaskRunsNeedRunningFlow,
    UseCachedResult,
)
from stratoflow.schemas import DecisionStatus

Policy = tuple[TransitionRule, ...]

FLOW_RUN_POLICY: Policy = (
    PreventLeavingTerminalStates(),
    CancellingOnlyEnds(),
    ClaimOnlyOnce(),
    LateOnlyFromScheduled(),
    WaitForScheduledTime(),
    RetryFailedFlowRuns(),
    RetryCrashedFlowRuns(),
    AwaitingRetryNeedsRetriesLeft(),
    FillScheduledTime(),
)
"""The rules for flow runs, in the order they run."""

TASK_RUN_POLICY: Policy = (
    PreventLeavingTerminalStates(),
    CancellingOnlyEnds(),
    ClaimOnlyOnce(),
    LateOnlyFromScheduled(),
    TaskRunsNeedRunningFlow(),
    UseCachedResult(),
    EnforceTagConcurrency(),
    ReleaseTagSlots(),
    FillScheduledTime(),
)
"""The rules for task runs, in the order they run."""


def needs_answer(task: TaskTraits, policy: Policy = TASK_RUN_POLICY) -> bool:
    """Whether a task run's proposals must wait for the answer (a rule might hold it back).

    The engine asks this before a task's first proposal: True means propose each state and
    obey the answer; False means no rule can change the outcome, so its states are recorded
    in batches. A new rule that can hold tasks back says so in its `may_hold_back`, and
    engines follow without a change of their own.
    """
    return any(rule.may_hold_back(task) for rule in policy)


def policy_for(kind: RunKind) -> Policy:
    """The ordered rules for runs of `kind`."""
    return FLOW_RUN_POLICY if kind is RunKind.FLOW else TASK_RUN_POLICY


@dataclass
class _Acceptance:
    """What the ACCEPT answers so far add up to."""

    ctx: ProposalContext
    acquire: list[str] = field(default_factory=list)
    release: bool = False

    def amend(self, answer: Decision) -> None:
        if answer.state is not None:
            self.ctx = replace(self.ctx, proposed=answer.state)
        self.acquire.extend(tag for tag in answer.acquire_slots if tag not in self.acquire)
        self.release = self.release or answer.release_slots

    def decision(self) -> Decision:
        return Decision(
            status=DecisionStatus.ACCEPT,
            state=self.ctx.proposed,
            acquire_slots=tuple(self.acquire),
            release_slots=self.release,
        )


def decide(ctx: ProposalContext, policy: Policy | None = None) -> Decision:
    """Answer a proposal with the policy for its run kind.

    Args:
        ctx: the proposal and everything the service read for it.
        policy: rules to use instead of the kind's policy (tests, special services).

    Returns:
        The first REJECT, WAIT or ABORT a matching rule gives (naming the rule in
        `Decision.rule`), else ACCEPT with the amended proposal and the slot actions.
    """
    acceptance = _Acceptance(ctx)
    for rule in policy if policy is not None else policy_for(ctx.run.kind):
        if not rule.applies(acceptance.ctx):
            continue
        answer = rule.evaluate(acceptance.ctx)
        if answer is None:
            continue
        if answer.status is not DecisionStatus.ACCEPT:
            return _refusal(ctx, replace(answer, rule=rule.name))
        acceptance.amend(answer)
    return acceptance.decision()


def _refusal(ctx: ProposalContext, answer: Decision) -> Decision:
    # A REJECT that moves a RUNNING task run elsewhere frees its slots like an ACCEPT would.
    if ctx.run.kind is RunKind.TASK and leaves_running(ctx.run.state, answer.state):
        return replace(answer, release_slots=True)
    return answer


__all__ = [
    "FLOW_RUN_POLICY",
    "TASK_RUN_POLICY",
    "Policy",
    "decide",
    "needs_answer",
    "policy_for",
]
