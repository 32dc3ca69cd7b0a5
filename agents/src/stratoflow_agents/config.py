"""The typed configuration every agent shares, whatever infrastructure it launches runs on.

Intervals are in seconds. The defaults suit a long-running agent; tests and the local stack pass
shorter ones. Each infrastructure's own settings (images, namespaces, ...) live in the backend's
module, next to its `launch`.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratoflow.schemas import AgentHeartbeat

MAX_CLAIM_BATCH = 50
"""The most runs one `claim` call may ask for (`ClaimRequest.limit`'s bound; a test pins it)."""
MAX_PREFETCH_SECONDS = 60.0
"""The furthest ahead a claim may reach (the API's bound on `ClaimRequest.due_before`)."""


@dataclass(frozen=True)
class AgentConfig:
    """How an agent polls, watches and stops runs.

    Attributes:
        work_queue: the work queue to claim runs from.
        name: the agent's name, shown with its heartbeats.
        limit: the most runs this agent has active at once.
        poll_interval: seconds between claims while runs are being found.
        backoff_max: the cap of the exponential backoff between claims when the queue is
            empty or the API is unreachable.
        backoff_jitter: the fraction (0..1) of each backoff delay taken off at random, so many
            agents do not poll in step.
        heartbeat_interval: seconds between agent heartbeats (30, SPEC section 4).
        cancel_check_interval: seconds between reads of each active run's state, to see
            CANCELLING.
        watch_interval: the longest the loop sleeps before checking its processes again.
        cancel_grace: seconds between SIGTERM and SIGKILL when stopping a run.
        shutdown_grace: seconds active runs get to finish once the agent is asked to stop,
            before they are stopped.
        prefetch_seconds: how far ahead each claim reaches (`due_before` = now + this, at
            most `MAX_PREFETCH_SECONDS`): a run due within it is claimed and its process
            started early, and the process waits for the run's expected start, so the flow
            begins on time. 0 claims only runs already due. While idle the agent polls at
            least every `prefetch_seconds / 2` (see `idle_poll_max`), so a run due within the
            window is always seen in time.
    """

    work_queue: str = "default"
    name: str = "agent"
    limit: int = 10
    poll_interval: float = 2.0
    backoff_max: float = 15.0
    backoff_jitter: float = 0.25
    heartbeat_interval: float = 30.0
    cancel_check_interval: float = 5.0
    watch_interval: float = 1.0
    cancel_grace: float = 10.0
    shutdown_grace: float = 30.0
    prefetch_seconds: float = 10.0

    def __post_init__(self) -> None:
        # The queue and the name go out with every heartbeat: a bad one fails here, not later.
        AgentHeartbeat(name=self.name, work_queue=self.work_queue)
        if self.limit < 1:
            raise ValueError(f"limit must be at least 1, not {self.limit}")
        if not 0 <= self.backoff_jitter <= 1:
            raise ValueError(f"backoff_jitter must be within 0..1, not {self.backoff_jitter}")
        for name in ("poll_interval", "heartbeat_interval", "cancel_check_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.backoff_max < self.poll_interval:
            raise ValueError("backoff_max must be at least poll_interval")
        if min(self.watch_interval, self.cancel_grace, self.shutdown_grace) < 0:
            raise ValueError("watch_interval and the grace periods must not be negative")
        if not 0 <= self.prefetch_seconds <= MAX_PREFETCH_SECONDS:
            raise ValueError(
                f"prefetch_seconds must be within 0..{MAX_PREFETCH_SECONDS:.0f}, "
                f"not {self.prefetch_seconds}"
            )

    @property
    def idle_poll_max(self) -> float:
        """The longest wait between claims while idle: `backoff_max`, but at most half the
        prefetch window (never under `poll_interval`), so a run due within the window is
        claimed before its time whatever the backoff had reached."""
        if self.prefetch_seconds <= 0:
            return self.backoff_max
        return max(self.poll_interval, min(self.backoff_max, self.prefetch_seconds / 2))
