"""The Vertex diagnosis the launcher and the agent read a CustomJob by (its REST JSON): each
state's exit code, and each failure named by its error code or message."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.infrastructure.outcome import RUNNING, JobOutcome
from stratoflow.infrastructure.vertex_status import CANCELLED_EXIT, custom_job_outcome


def custom_job(state: str, code: int = 0, message: str = "") -> dict[str, Any]:
    error = {"code": code, "message": message} if code or message else None
    return {"name": "projects/p/locations/r/customJobs/1", "state": state, "error": error}


CASES = [
    ("JOB_STATE_QUEUED", 0, "", RUNNING),
    ("JOB_STATE_PENDING", 0, "", RUNNING),
    ("JOB_STATE_RUNNING", 0, "", RUNNING),
    ("JOB_STATE_CANCELLING", 0, "", RUNNING),
    ("JOB_STATE_SUCCEEDED", 0, "", JobOutcome(True, 0)),
    ("JOB_STATE_FAILED", 8, "Resources exhausted",
     JobOutcome(True, 1, "quota exceeded: Resources exhausted")),
    ("JOB_STATE_FAILED", 3, "Quota custom_cpus",
     JobOutcome(True, 1, "quota exceeded: Quota custom_cpus")),
    ("JOB_STATE_FAILED", 4, "took long", JobOutcome(True, 1, "timed out: took long")),
    ("JOB_STATE_FAILED", 13, "replica hit its Deadline",
     JobOutcome(True, 1, "timed out: replica hit its Deadline")),
    ("JOB_STATE_FAILED", 3, "", JobOutcome(True, 1, "the CustomJob failed: no message")),
    ("JOB_STATE_PARTIALLY_SUCCEEDED", 13, "replica workerpool0-0 exited with status 1",
     JobOutcome(True, 1, "the CustomJob failed: replica workerpool0-0 exited with status 1")),
    ("JOB_STATE_EXPIRED", 0, "",
     JobOutcome(True, 1, "the CustomJob expired before it ran (no message)")),
    ("JOB_STATE_CANCELLED", 1, "CANCELLED",
     JobOutcome(True, CANCELLED_EXIT, "the CustomJob was cancelled (CANCELLED)")),
]  # fmt: skip


@pytest.mark.parametrize(("state", "code", "message", "expected"), CASES)
def test_custom_job_outcome(state: str, code: int, message: str, expected: JobOutcome) -> None:
    assert custom_job_outcome(custom_job(state, code, message)) == expected
