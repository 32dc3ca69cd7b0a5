"""Stratoflow's orchestration kernel: the rules, policies, bookkeeping and retry arithmetic that
decide a run's fate, once, for the control plane and the offline orchestrator alike.

A caller reads the run and what the rules need, and asks a `plan_*` function (`plans`) for a
`Plan`: the decision (`decide` over the ordered rules of `policies`), the run as it will be
stored with its counters and times (`bookkeeping`), and the concurrency-slot leases to take and
give back. Its store applies the plan whole or not at all. `attempts` says when a flow run's
attempt is over and what its open task runs then become; `needs_answer` tells the engine which
task runs must wait for an answer. Nothing here does I/O or reads the clock: callers pass `now`.
It imports the standard library, pydantic and `stratoflow.schemas` only (a test checks it).
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
from stratoflow.orchestration.caching import cache_entry
from stratoflow.orchestration.cancellation import cancel_target
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
    Proposer,
    RunKind,
    RunView,
    TagSlots,
    TaskTraits,
)
from stratoflow.orchestration.flow_rules import (
    AwaitingRetryNeedsRetriesLeft,
    RetryCrashedFlowRuns,
    RetryFailedFlowRuns,
    WaitForScheduledTime,
    retry_decision,
)
from stratoflow.orchestration.plans import (
    ACTIVE_STATES,
    DEFAULT_LEASE_SECONDS,
    Plan,
    SlotGiveBack,
    SlotTake,
    flow_run_view,
    plan_claim,
    plan_flow_run,
    plan_task_run,
    task_run_view,
)
from stratoflow.orchestration.policies import (
    FLOW_RUN_POLICY,
    TASK_RUN_POLICY,
    Policy,
    decide,
    needs_answer,
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
    "ACTIVE_STATES",
    "DEFAULT_LEASE_SECONDS",
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
    "Plan",
    "Policy",
    "PreventLeavingTerminalStates",
    "ProposalContext",
    "Proposer",
    "ReleaseTagSlots",
    "RetryCrashedFlowRuns",
    "RetryFailedFlowRuns",
    "RunKind",
    "RunView",
    "SlotGiveBack",
    "SlotTake",
    "TagSlots",
    "TaskRunsNeedRunningFlow",
    "TaskTraits",
    "TransitionRule",
    "UseCachedResult",
    "WaitForScheduledTime",
    "bookkeeping",
    "cache_entry",
    "cancel_target",
    "decide",
    "ends_attempt",
    "enters_running",
    "enters_terminal",
    "flow_run_view",
    "left_over_task_state",
    "needs_answer",
    "plan_claim",
    "plan_flow_run",
    "plan_task_run",
    "policy_for",
    "retry_decision",
    "starts_later_attempt",
    "task_run_view",
]
