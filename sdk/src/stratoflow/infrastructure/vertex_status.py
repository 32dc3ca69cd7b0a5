"""Pure: a Vertex AI CustomJob (its REST JSON: `state`, `error.code`, `error.message`) to a
`JobOutcome`, with the failure named: quota, timeout, expiry, cancellation.

Exit codes: 0 once it succeeded, 1 once it failed, partially succeeded or expired,
`CANCELLED_EXIT` once cancelled (as if the run's process had been sent SIGTERM).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratoflow.infrastructure.outcome import RUNNING, JobOutcome

FAILED_STATES = frozenset({"JOB_STATE_FAILED", "JOB_STATE_PARTIALLY_SUCCEEDED"})
"""The states of a job that ran and did not succeed."""
CANCELLED_EXIT = -15
"""The exit code of a cancelled job: as if the run's process had been sent SIGTERM."""
FAILED_EXIT = 1
"""The exit code of a job that failed or expired."""
QUOTA_CODE, DEADLINE_CODE = 8, 4
"""google.rpc.Code RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED."""


def custom_job_outcome(job: Mapping[str, Any]) -> JobOutcome:
    """What a CustomJob is doing, from its REST JSON."""
    state = str(job.get("state") or "")
    error = job.get("error") or {}
    code, message = int(error.get("code") or 0), str(error.get("message") or "")
    if state == "JOB_STATE_SUCCEEDED":
        return JobOutcome(over=True, exit_code=0)
    if state in FAILED_STATES or state == "JOB_STATE_EXPIRED":
        return JobOutcome(True, FAILED_EXIT, diagnose(state, code, message))
    if state == "JOB_STATE_CANCELLED":
        return JobOutcome(True, CANCELLED_EXIT, diagnose(state, code, message))
    return RUNNING


def diagnose(state: str, code: int, message: str) -> str:
    """Why a job that ended without succeeding did (quota and timeouts named as such)."""
    message = message or "no message"
    if state == "JOB_STATE_EXPIRED":
        return f"the CustomJob expired before it ran ({message})"
    if state == "JOB_STATE_CANCELLED":
        return f"the CustomJob was cancelled ({message})"
    lowered = message.lower()
    if code == QUOTA_CODE or "quota" in lowered:
        return f"quota exceeded: {message}"
    if code == DEADLINE_CODE or "timeout" in lowered or "deadline" in lowered:
        return f"timed out: {message}"
    return f"the CustomJob failed: {message}"
