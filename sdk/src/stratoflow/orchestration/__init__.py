"""Stratoflow's orchestration rules: pure state-transition logic for the control plane.

The service layer builds a `ProposalContext`, asks `decide` for a `Decision`, persists it with
one version-conditional write, and records the run's counters and times from `bookkeeping`;
`attempts` says when a flow run's attempt is over and what its open task runs then become.
Nothing in this package does I/O or reads the clock; schedule arithmetic lives beside it in
`orchestration.schedules`, `rrules`, `schedule_budget` and `scheduler_plan` (imported by their
full path). The one clock there is a schedule budget's monotonic time limit, a bound on work
rather than a business time, and callers may pass their own.
"""

from stratoflow.orchestration.attempts import (
    ends_attempt,
    left_over_task_state,
    starts_later_attempt,
)
from stratoflow.orchestration.bookkeeping import (
    Bookkeeping,
    bookkeeping,
    enters_running,
    enters_terminal,
)
from stratoflow.orchestration.common_rules import (
    CancellingOnlyEnds,
    ClaimOnlyOnce,
    FillScheduledTime,
    LateOnlyFromScheduled,
    PreventLeavingTerminalStates,
)
from stratoflow.orchestration.context import (
    Decision,
    ProposalContext,
    RunKind,
    RunView,
    TagSlots,
)
from stratoflow.orchestration.flow_rules import (
    AwaitingRetryNeedsRetriesLeft,
    RetryCrashedFlowRuns,
    RetryFailedFlowRuns,
    WaitForScheduledTime,
    retry_decision,
)
from stratoflow.orchestration.policies import (
    FLOW_RUN_POLICY,
    TASK_RUN_POLICY,
    Policy,
    decide,
    policy_for,
)
from stratoflow.orchestration.rules import TransitionRule
from stratoflow.orchestration.task_rules import (
    FLOW_NOT_RUNNING_WAIT_SECONDS,
    TAG_SLOT_WAIT_SECONDS,
    EnforceTagConcurrency,
    ReleaseTagSlots,
    TaskRunsNeedRunningFlow,
    UseCachedResult,
)

__all__ = [
    "FLOW_NOT_RUNNING_WAIT_SECONDS",
    "FLOW_RUN_POLICY",
    "TAG_SLOT_WAIT_SECONDS",
    "TASK_RUN_POLICY",
    "AwaitingRetryNeedsRetriesLeft",
    "Bookkeeping",
    "CancellingOnlyEnds",
    "ClaimOnlyOnce",
    "Decision",
    "EnforceTagConcurrency",
    "FillScheduledTime",
    "LateOnlyFromScheduled",
    "Policy",
    "PreventLeavingTerminalStates",
    "ProposalContext",
    "ReleaseTagSlots",
    "RetryCrashedFlowRuns",
    "RetryFailedFlowRuns",
    "RunKind",
    "RunView",
    "TagSlots",
    "TaskRunsNeedRunningFlow",
    "TransitionRule",
    "UseCachedResult",
    "WaitForScheduledTime",
    "bookkeeping",
    "decide",
    "ends_attempt",
    "enters_running",
    "enters_terminal",
    "left_over_task_state",
    "policy_for",
    "retry_decision",
    "starts_later_attempt",
]
