"""`JobOutcome`: what a job's infrastructure says about it, as both kinds of launcher use it.

The push launchers wrap it in their `JobStatus` (over, succeeded, reason); the pull agents'
handles answer its exit code from `poll` and its reason from `failure_detail`.
"""

from __future__ import annotations

from typing import NamedTuple


class JobOutcome(NamedTuple):
    """One read of a job.

    Attributes:
        over: The job will not run any further (succeeded, failed, can never start).
        exit_code: The run's exit code once over (0 when it succeeded); None while it runs.
        reason: Why it failed (image pull, OOM, eviction, quota, timeout, ...); None else.
    """

    over: bool
    exit_code: int | None = None
    reason: str | None = None

    @property
    def succeeded(self) -> bool | None:
        """Whether the job succeeded; None while it runs."""
        return self.exit_code == 0 if self.over else None


RUNNING = JobOutcome(over=False)
"""The outcome of a job that still runs (or will)."""
