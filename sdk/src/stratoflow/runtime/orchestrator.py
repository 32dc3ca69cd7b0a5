"""The engine's view of the API: the few calls a run needs, as a structural protocol.

`stratoflow.client.StratoflowClient` satisfies it over HTTP; `LocalOrchestrator` satisfies it in
memory when no API is configured. The engine never knows which one it talks to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from stratoflow.schemas import (
    Flow,
    FlowCreate,
    FlowRun,
    FlowRunCreate,
    FlowRunHeartbeat,
    LogCreate,
    LogsWritten,
    OrchestrationResult,
    StateProposal,
    TaskRun,
    TaskRunBatch,
    TaskRunBatchResponse,
    TaskRunCreate,
)


class Orchestrator(Protocol):
    """What the run engine asks of the control plane."""

    def create_flow(self, body: FlowCreate) -> Flow:
        """Register a flow by name."""
        ...

    def create_flow_run(self, body: FlowRunCreate) -> FlowRun:
        """Create a flow run."""
        ...

    def read_flow_run(self, flow_run_id: UUID) -> FlowRun:
        """Read a flow run."""
        ...

    def set_flow_run_state(self, flow_run_id: UUID, proposal: StateProposal) -> OrchestrationResult:
        """Propose a flow-run state."""
        ...

    def heartbeat_flow_run(
        self, flow_run_id: UUID, body: FlowRunHeartbeat | None = None
    ) -> FlowRun:
        """Say the run is alive; the answer carries its current state."""
        ...

    def create_task_run(self, body: TaskRunCreate) -> TaskRun:
        """Create a task run (idempotent by client-chosen id)."""
        ...

    def create_task_runs_batch(self, body: TaskRunBatch) -> TaskRunBatchResponse:
        """Record task runs and states in one call."""
        ...

    def set_task_run_state(self, task_run_id: UUID, proposal: StateProposal) -> OrchestrationResult:
        """Propose a task-run state."""
        ...

    def write_logs(self, logs: Sequence[LogCreate]) -> LogsWritten:
        """Store log lines."""
        ...
