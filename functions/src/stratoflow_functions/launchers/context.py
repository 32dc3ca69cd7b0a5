"""What every launcher step runs with: the store, the stack's settings, the infrastructure this
launcher Lambda serves, a clock, and the clients it calls (injected; built lazily by the
handler for production)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from stratoflow.infrastructure.environment import launch_environment
from stratoflow.orchestration import Proposer
from stratoflow.schemas import (
    Deployment,
    FlowRun,
    InfrastructureType,
    State,
    StateProposal,
    StateType,
    utcnow,
)
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import NotFoundError
from stratoflow_functions.launchers.backends import BackendFactory, backend_for
from stratoflow_functions.services.flow_run_states import propose_flow_run_state
from stratoflow_functions.store import Store


class EcsClient(Protocol):
    """The part of boto3's ECS client `prepare` calls."""

    def describe_task_definition(self, **kwargs: Any) -> Any: ...

    def register_task_definition(self, **kwargs: Any) -> Any: ...


class LaunchError(Exception):
    """A run cannot be launched as asked (no deployment, a setting missing on the stack); the
    state machine catches it and the run is settled CRASHED with this message."""


@dataclass(frozen=True)
class LauncherContext:
    """A launcher Lambda's dependencies (configuration and clients only, no per-run state)."""

    store: Store
    settings: Settings
    infrastructure: InfrastructureType
    clock: Callable[[], datetime] = utcnow
    ecs: EcsClient | None = None
    backends: BackendFactory = field(default=backend_for)

    def run(self, run_id: UUID) -> FlowRun:
        """The run now (consistent read).

        Raises:
            NotFoundError: No such run.
        """
        return self.store.flow_runs.get(run_id).run

    def deployment(self, run: FlowRun) -> Deployment:
        """The deployment the run belongs to.

        Raises:
            LaunchError: The run has no deployment, or it was deleted.
        """
        if run.deployment_id is None:
            raise LaunchError(f"flow run {run.id} has no deployment to launch")
        try:
            return self.store.deployments.get(run.deployment_id)
        except NotFoundError as exc:
            raise LaunchError(f"deployment {run.deployment_id} was deleted") from exc

    def propose(self, run_id: UUID, state_type: StateType, message: str) -> FlowRun:
        """Propose a state as the control plane; the run after the answer."""
        state = State(type=state_type, message=message, timestamp=self.clock())
        proposal = StateProposal(state=state)
        propose_flow_run_state(
            self.store, run_id, proposal, self.clock(), proposer=Proposer.CONTROL_PLANE
        )
        return self.run(run_id)

    def environment(self, run: FlowRun, extra: Mapping[str, str]) -> dict[str, str]:
        """What the launched run receives (SPEC section 7) plus the deployment's `extra`.

        Raises:
            LaunchError: STRATOFLOW_LAUNCH_API_URL is not set (the run could not reach the API).
        """
        if not self.settings.launch_api_url:
            raise LaunchError(
                "STRATOFLOW_LAUNCH_API_URL is not set: a launched run could not reach the API"
            )
        return launch_environment(self.settings.launch_api_url, run.id, extra)

    def record_infrastructure_id(self, run: FlowRun, infrastructure_id: str) -> None:
        """Put what runs the run on it (a task ARN, a job name), unless it is there already."""
        if run.infrastructure_id != infrastructure_id:
            self.store.flow_runs.heartbeat(run.id, self.clock(), infrastructure_id)
