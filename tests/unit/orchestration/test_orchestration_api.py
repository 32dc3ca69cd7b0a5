"""The orchestration package's public API is pinned, and the package stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import stratoflow.orchestration as orchestration

PACKAGE_DIR = Path(orchestration.__file__).parent
FORBIDDEN_IMPORTS = ("boto3", "botocore", "pynamodb", "aws_lambda_powertools", "httpx")
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}
NOT_OURS: set[str] = set()
"""Files of this package owned elsewhere (none since schedule arithmetic moved out)."""

EXPECTED_API = {
    "ACTIVE_STATES",
    "DEFAULT_LEASE_SECONDS",
    "Plan",
    "Proposer",
    "SlotGiveBack",
    "SlotTake",
    "TaskTraits",
    "flow_run_view",
    "needs_answer",
    "plan_claim",
    "plan_flow_run",
    "plan_task_run",
    "task_run_view",
    "AwaitingRetryNeedsRetriesLeft",
    "FLOW_NOT_RUNNING_WAIT_SECONDS",
    "FLOW_RUN_POLICY",
    "TAG_SLOT_WAIT_SECONDS",
    "TASK_RUN_POLICY",
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
    "cache_entry",
    "cancel_target",
    "decide",
    "ends_attempt",
    "enters_running",
    "enters_terminal",
    "left_over_task_state",
    "policy_for",
    "retry_decision",
    "starts_later_attempt",
}


def test_public_api_is_pinned() -> None:
    assert set(orchestration.__all__) == EXPECTED_API
    missing = [name for name in orchestration.__all__ if not hasattr(orchestration, name)]
    assert missing == []


def _our_modules() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.glob("*.py") if p.name not in NOT_OURS)


def _imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_package_imports_no_io_library() -> None:
    offenders = [
        f"{path.name}: {name}"
        for path in _our_modules()
        for name in _imported_modules(ast.parse(path.read_text()))
        if name.split(".")[0] in FORBIDDEN_IMPORTS
    ]
    assert len(_our_modules()) >= 8
    assert offenders == []


def test_package_never_reads_the_clock() -> None:
    offenders = [
        f"{path.name}:{node.lineno}"
        for path in _our_modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_CALLS
    ]
    assert offenders == []
