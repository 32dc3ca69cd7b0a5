"""What state a run must end in once its infrastructure has ended, and telling the API.

`final_state` is a pure decision over the run as the API last saw it, the exit code and why the
agent stopped it; `propose` sends the answer and logs (never raises) a failure to send, since
the zombie killer is there to catch what an agent could not report.
"""

from __future__ import annotations

import logging
import signal
from typing import Protocol
from uuid import UUID, uuid4

from stratoflow.client.errors import StratoflowClientError
from stratoflow.schemas import Agent as AgentRecord
from stratoflow.schemas import (
    AgentHeartbeat,
    ClaimRequest,
    ClaimResponse,
    FlowRun,
    FlowRunHeartbeat,
    OrchestrationResult,
    State,
    StateProposal,
    StateType,
)
from stratoflow_agents.handles import StopReason

logger = logging.getLogger("stratoflow.agent")

ACTIVE_STATES = frozenset({StateType.PENDING, StateType.RUNNING})
"""States in which a run needs its infrastructure: ended infrastructure means it crashed.
(A SCHEDULED run, e.g. AwaitingRetry after a failed attempt, and a PAUSED run are not.)"""

SHUTDOWN_MESSAGE = "agent shut down"


class AgentClient(Protocol):
    """The API calls an agent makes (`stratoflow.client.StratoflowClient` has them all)."""

    def claim_runs(self, name: str, body: ClaimRequest) -> ClaimResponse:
        """Claim due runs of a work queue."""
        ...

    def agent_heartbeat(self, agent_id: UUID, body: AgentHeartbeat) -> AgentRecord:
        """Say the agent is alive."""
        ...

    def read_flow_run(self, flow_run_id: UUID) -> FlowRun:
        """One flow run."""
        ...

    def set_flow_run_state(self, flow_run_id: UUID, proposal: StateProposal) -> OrchestrationResult:
        """Propose a flow-run state."""
        ...

    def heartbeat_flow_run(
        self, flow_run_id: UUID, body: FlowRunHeartbeat | None = None
    ) -> FlowRun:
        """Record a flow run's heartbeat (and its infrastructure id, when the body has one)."""
        ...


def describe_exit(code: int) -> str:
    """`exit code 1`, or `exit code -9 (SIGKILL)` for a process killed by a signal."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"exit code {code} ({signal.Signals(-code).name})"
    except ValueError:
        return f"exit code {code}"


def final_state(
    run: FlowRun, exit_code: int, reason: StopReason | None, detail: str | None = None
) -> State | None:
    """The state to record for `run` whose infrastructure ended with `exit_code`, if any.

    A run being cancelled ends CANCELLED; a run still PENDING or RUNNING ends CRASHED with the
    exit code in its message (whatever the code: its process is gone, it cannot finish), and
    `detail` (the process's last stderr lines) when there is one; a run that already ended, or
    is waiting for a retry, is left alone. The CRASHED is a proposal like any other: with
    retries left the server answers AwaitingRetry (`RetryCrashedFlowRuns`).
    """
    current = run.state.type
    if current is StateType.CANCELLING or (
        reason is StopReason.CANCEL and current in ACTIVE_STATES
    ):
        return cancelled_state(f"flow run infrastructure stopped ({describe_exit(exit_code)})")
    if current not in ACTIVE_STATES:
        return None
    if reason is StopReason.SHUTDOWN:
        return crashed_state(f"{SHUTDOWN_MESSAGE}; flow run stopped ({describe_exit(exit_code)})")
    message = f"Flow run infrastructure exited with {describe_exit(exit_code)}"
    return crashed_state(f"{message}: {detail}" if detail else message)


def cancelled_state(detail: str) -> State:
    """A CANCELLED state recorded by the agent."""
    return State(type=StateType.CANCELLED, message=f"Cancelled by the agent: {detail}")


def crashed_state(message: str) -> State:
    """A CRASHED state recorded by the agent."""
    return State(type=StateType.CRASHED, message=message)


def propose(
    client: AgentClient, run_id: UUID, state: State, version: int | None = None
) -> OrchestrationResult | None:
    """Propose `state` for the run; None (logged) if the API could not be told.

    Args:
        client: the API.
        run_id: the flow run.
        state: the state to propose.
        version: the run's version when the agent read it: the proposal then applies only if
            nothing moved the run since (409 otherwise, logged), so a report about an
            attempt that another reporter (the zombie killer, the engine) already settled
            never lands on the next attempt.
    """
    proposal = StateProposal(state=state, transition_id=uuid4(), expected_version=version)
    try:
        answer = client.set_flow_run_state(run_id, proposal)
    except StratoflowClientError as exc:
        logger.warning("flow run %s: could not record %s: %s", run_id, state.name, exc)
        return None
    logger.info("flow run %s: recorded %s (%s)", run_id, state.name, answer.status.value)
    return answer


def read_run(client: AgentClient, run_id: UUID) -> FlowRun | None:
    """The run as the API sees it now; None (logged) if the API could not be asked."""
    try:
        return client.read_flow_run(run_id)
    except StratoflowClientError as exc:
        logger.warning("flow run %s: could not read its state: %s", run_id, exc)
        return None
