"""What the store returns for runs: the run plus the bookkeeping of its last transition."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from stratoflow.schemas import FlowRun, OrchestrationResult, TaskRun


@dataclass(frozen=True)
class FlowRunRecord:
    """A flow run and the answer given to its last transition (to answer duplicates alike).

    Attributes:
        run: The flow run.
        last_transition_id: The `transition_id` of the proposal that last changed the run.
        last_result: The answer given to that proposal.
    """

    run: FlowRun
    last_transition_id: UUID | None
    last_result: OrchestrationResult | None


@dataclass(frozen=True)
class TaskRunRecord:
    """A task run, its last transition's answer, and the concurrency slots it holds.

    Attributes:
        run: The task run.
        last_transition_id: The `transition_id` of the proposal that last changed the run.
        last_result: The answer given to that proposal.
        held_slots: Tags whose concurrency slot this run holds.
    """

    run: TaskRun
    last_transition_id: UUID | None
    last_result: OrchestrationResult | None
    held_slots: tuple[str, ...] = ()
