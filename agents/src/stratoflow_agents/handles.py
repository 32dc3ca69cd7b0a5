"""`RunHandle`: what an agent holds for each run it launched, whatever the infrastructure.

A backend's `launch` returns one; the agent loop only ever polls, signals and cleans up through
it, so the same loop drives a process, a container, a Kubernetes Job or a cloud job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

from stratoflow.schemas import ClaimedRun


class RunHandle(ABC):
    """One launched run's infrastructure (a process, a container, a job)."""

    @property
    @abstractmethod
    def infrastructure_id(self) -> str:
        """What runs the flow: `pid:123`, a container id, a job name."""

    @abstractmethod
    def poll(self) -> int | None:
        """The exit code once the run's infrastructure has ended, else None (never blocks).

        Negative codes mean "killed by signal N" (as `subprocess` reports them).
        """

    @abstractmethod
    def terminate(self) -> None:
        """Ask the infrastructure to stop (SIGTERM or its equivalent); never raises if gone."""

    @abstractmethod
    def kill(self) -> None:
        """Stop the infrastructure now (SIGKILL or its equivalent); never raises if gone."""

    def failure_detail(self) -> str | None:
        """What the infrastructure said last (a process's last stderr lines), once it ended.

        The agent adds it to the CRASHED state it records, for a run whose process died
        without telling the API why. None when there is nothing (the default).
        """
        return None

    def cleanup(self) -> None:  # noqa: B027 (optional: most handles have nothing to release)
        """Release what the launch left behind (folders, containers) once the run has ended."""


class StopReason(StrEnum):
    """Why the agent is stopping a run."""

    CANCEL = "cancel"
    SHUTDOWN = "shutdown"


@dataclass
class ActiveRun:
    """A launched run the agent is watching.

    Attributes:
        claimed: the claim that won the run (flow run and deployment).
        handle: its infrastructure.
        stop_reason: why the agent is stopping it, once it is.
        stop_started: when (agent clock) the agent asked it to stop.
        killed: whether the agent has sent the hard kill.
        next_check: when (agent clock) to read its state next, to see CANCELLING.
    """

    claimed: ClaimedRun
    handle: RunHandle
    stop_reason: StopReason | None = None
    stop_started: float = 0.0
    killed: bool = False
    next_check: float = 0.0

    @property
    def stopping(self) -> bool:
        """Whether the agent has asked this run to stop."""
        return self.stop_reason is not None
