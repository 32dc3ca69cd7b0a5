"""The synchronous API client: one method per route, typed results, retries with backoff.

Tests (and the local stack) pass any `httpx` transport, e.g. `httpx.MockTransport` or a
transport that calls the API handler in-process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from stratoflow.client import _routes as routes
from stratoflow.client._auth import build_auth
from stratoflow.client._base import (
    USER_AGENT,
    Call,
    backoff_delay,
    build_request,
    is_retryable_exception,
    is_retryable_status,
    read_answer,
    translate_transport_error,
)
from stratoflow.client._routes import Id
from stratoflow.client.settings import ClientSettings
from stratoflow.schemas import (
    Agent,
    AgentHeartbeat,
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ClaimRequest,
    ClaimResponse,
    CodeDownload,
    CodeUpload,
    CodeUploadRequest,
    ConcurrencyLimit,
    ConcurrencyLimitUpdate,
    Deployment,
    DeploymentCreate,
    DeploymentRunCreate,
    Flow,
    FlowCreate,
    FlowRun,
    FlowRunCreate,
    FlowRunFilter,
    FlowRunHeartbeat,
    FlowRunStats,
    Health,
    Log,
    LogCreate,
    LogsWritten,
    OrchestrationResult,
    Page,
    State,
    StateProposal,
    TaskRun,
    TaskRunBatch,
    TaskRunBatchResponse,
    TaskRunCreate,
    WorkQueue,
    WorkQueueUpdate,
)

T = TypeVar("T")


class StratoflowClient:
    """A synchronous client of the Stratoflow API.

    Args:
        settings: where the API is and how to authenticate (`load_client_settings()`).
        transport: an httpx transport to use instead of the network (tests, local stack).
        backoff_seconds: the base of the exponential backoff between retries.
        sleep: how to wait between retries (injected so tests need not wait).
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not settings.api_url:
            raise ValueError("no API URL: set STRATOFLOW_API_URL or pass api_url")
        self.settings = settings
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=settings.api_url,
            auth=build_auth(settings),
            timeout=settings.timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def send(self, call: Call[T]) -> T:
        """Send one call, retrying what is safe to retry, and return the parsed answer."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.send(build_request(self._http, call))
            except httpx.TransportError as exc:
                if attempt > self.settings.max_retries or not is_retryable_exception(call, exc):
                    raise translate_transport_error(exc) from exc
                self._sleep(backoff_delay(attempt, self._backoff))
                continue
            retry = is_retryable_status(call, response.status_code)
            if not retry or attempt > self.settings.max_retries:
                return read_answer(call, response)
            self._sleep(backoff_delay(attempt, self._backoff, response))

    # --- routes -----------------------------------------------------------------------------

    def health(self) -> Health:
        """`GET /health`."""
        return self.send(routes.health())

    def openapi(self) -> dict[str, Any]:
        """`GET /openapi.json`: the OpenAPI document."""
        return self.send(routes.openapi())

    def create_flow(self, body: FlowCreate) -> Flow:
        """Register a flow by name (returns the existing flow for a known name)."""
        return self.send(routes.create_flow(body))

    def list_flows(self, limit: int | None = None, next_token: str | None = None) -> Page[Flow]:
        """One page of flows."""
        return self.send(routes.list_flows(limit, next_token))

    def read_flow(self, flow_id: Id) -> Flow:
        """One flow by id."""
        return self.send(routes.read_flow(flow_id))

    def create_deployment(self, body: DeploymentCreate) -> Deployment:
        """Create or update (by flow and name) a deployment."""
        return self.send(routes.create_deployment(body))

    def list_deployments(
        self, flow_id: Id | None = None, limit: int | None = None, next_token: str | None = None
    ) -> Page[Deployment]:
        """One page of deployments, optionally of one flow."""
        return self.send(routes.list_deployments(flow_id, limit, next_token))

    def read_deployment(self, deployment_id: Id) -> Deployment:
        """One deployment by id."""
        return self.send(routes.read_deployment(deployment_id))

    def read_deployment_by_name(self, flow_name: str, name: str) -> Deployment:
        """One deployment by flow name and deployment name."""
        return self.send(routes.read_deployment_by_name(flow_name, name))

    def delete_deployment(self, deployment_id: Id) -> None:
        """Delete a deployment."""
        self.send(routes.delete_deployment(deployment_id))

    def pause_deployment(self, deployment_id: Id) -> Deployment:
        """Pause a deployment's schedules."""
        return self.send(routes.pause_deployment(deployment_id))

    def resume_deployment(self, deployment_id: Id) -> Deployment:
        """Resume a paused deployment."""
        return self.send(routes.resume_deployment(deployment_id))

    def create_deployment_run(
        self, deployment_id: Id, body: DeploymentRunCreate | None = None
    ) -> FlowRun:
        """Start a run of a deployment."""
        return self.send(routes.create_deployment_run(deployment_id, body or DeploymentRunCreate()))

    def create_flow_run(self, body: FlowRunCreate) -> FlowRun:
        """Create a flow run (the engine does this when a flow is called)."""
        return self.send(routes.create_flow_run(body))

    def list_flow_runs(
        self,
        flt: FlowRunFilter | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> Page[FlowRun]:
        """One page of flow runs matching a filter, newest first."""
        return self.send(routes.list_flow_runs(flt, limit, next_token))

    def read_flow_run(self, flow_run_id: Id) -> FlowRun:
        """One flow run by id."""
        return self.send(routes.read_flow_run(flow_run_id))

    def set_flow_run_state(self, flow_run_id: Id, proposal: StateProposal) -> OrchestrationResult:
        """Propose a state for a flow run; the answer says what the run must do."""
        return self.send(routes.set_flow_run_state(flow_run_id, proposal))

    def heartbeat_flow_run(self, flow_run_id: Id, body: FlowRunHeartbeat | None = None) -> FlowRun:
        """Say a flow run is alive; the returned state tells the engine if it is CANCELLING."""
        return self.send(routes.heartbeat_flow_run(flow_run_id, body or FlowRunHeartbeat()))

    def flow_run_stats(
        self,
        after: datetime,
        before: datetime,
        flow_id: Id | None = None,
        deployment_id: Id | None = None,
    ) -> FlowRunStats:
        """Exact flow-run counts by state type, per hour of expected start, in [after, before)."""
        return self.send(routes.flow_run_stats(after, before, flow_id, deployment_id))

    def list_flow_run_states(self, flow_run_id: Id) -> list[State]:
        """A flow run's state history (its last 100 states), oldest first."""
        return self.send(routes.list_flow_run_states(flow_run_id))

    def retry_flow_run(self, flow_run_id: Id) -> OrchestrationResult:
        """Send a failed, crashed, cancelled or timed-out deployment run back to its queue."""
        return self.send(routes.retry_flow_run(flow_run_id))

    def list_agents(self, limit: int | None = None, next_token: str | None = None) -> Page[Agent]:
        """One page of agents, the most recently seen first."""
        return self.send(routes.list_agents(limit, next_token))

    def cancel_flow_run(self, flow_run_id: Id) -> OrchestrationResult:
        """Cancel a flow run (RUNNING runs become CANCELLING, then CANCELLED)."""
        return self.send(routes.cancel_flow_run(flow_run_id))

    def list_task_runs(
        self, flow_run_id: Id, limit: int | None = None, next_token: str | None = None
    ) -> Page[TaskRun]:
        """One page of a flow run's task runs."""
        return self.send(routes.list_task_runs(flow_run_id, limit, next_token))

    def list_logs(
        self, flow_run_id: Id, limit: int | None = None, next_token: str | None = None
    ) -> Page[Log]:
        """One page of a flow run's logs, in time order."""
        return self.send(routes.list_logs(flow_run_id, limit, next_token))

    def create_task_run(self, body: TaskRunCreate) -> TaskRun:
        """Create a task run (returns the existing run for a known client-chosen id)."""
        return self.send(routes.create_task_run(body))

    def create_task_runs_batch(self, body: TaskRunBatch) -> TaskRunBatchResponse:
        """Record task runs and their states in one call."""
        return self.send(routes.create_task_runs_batch(body))

    def read_task_run(self, task_run_id: Id) -> TaskRun:
        """One task run by id."""
        return self.send(routes.read_task_run(task_run_id))

    def set_task_run_state(self, task_run_id: Id, proposal: StateProposal) -> OrchestrationResult:
        """Propose a state for a task run."""
        return self.send(routes.set_task_run_state(task_run_id, proposal))

    def write_logs(self, logs: Sequence[LogCreate]) -> LogsWritten:
        """Store up to 1,000 log lines."""
        return self.send(routes.write_logs(logs))

    def list_work_queues(
        self, limit: int | None = None, next_token: str | None = None
    ) -> Page[WorkQueue]:
        """One page of work queues."""
        return self.send(routes.list_work_queues(limit, next_token))

    def read_work_queue(self, name: str) -> WorkQueue:
        """One work queue by name."""
        return self.send(routes.read_work_queue(name))

    def update_work_queue(self, name: str, body: WorkQueueUpdate) -> WorkQueue:
        """Set a work queue's settings."""
        return self.send(routes.update_work_queue(name, body))

    def claim_runs(self, name: str, body: ClaimRequest) -> ClaimResponse:
        """Claim due runs of a work queue for an agent."""
        return self.send(routes.claim_runs(name, body))

    def agent_heartbeat(self, agent_id: Id, body: AgentHeartbeat) -> Agent:
        """Say an agent is alive."""
        return self.send(routes.agent_heartbeat(agent_id, body))

    def list_concurrency_limits(
        self, limit: int | None = None, next_token: str | None = None
    ) -> Page[ConcurrencyLimit]:
        """One page of tag concurrency limits."""
        return self.send(routes.list_concurrency_limits(limit, next_token))

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit:
        """The concurrency limit of a tag."""
        return self.send(routes.read_concurrency_limit(tag))

    def set_concurrency_limit(self, tag: str, body: ConcurrencyLimitUpdate) -> ConcurrencyLimit:
        """Set the concurrency limit of a tag."""
        return self.send(routes.set_concurrency_limit(tag, body))

    def delete_concurrency_limit(self, tag: str) -> None:
        """Remove the concurrency limit of a tag."""
        self.send(routes.delete_concurrency_limit(tag))

    def create_api_key(self, body: ApiKeyCreate) -> ApiKeyCreated:
        """Create an API key (admins only); the answer is the only time the key is shown."""
        return self.send(routes.create_api_key(body))

    def list_api_keys(
        self, limit: int | None = None, next_token: str | None = None
    ) -> Page[ApiKey]:
        """One page of API keys (admins only)."""
        return self.send(routes.list_api_keys(limit, next_token))

    def revoke_api_key(self, key_id: Id) -> None:
        """Revoke an API key (admins only)."""
        self.send(routes.revoke_api_key(key_id))

    def create_code_upload(self, body: CodeUploadRequest) -> CodeUpload:
        """Where to upload a code bundle; `exists` is true when the same content is stored."""
        return self.send(routes.create_code_upload(body))

    def read_code_bundle(self, sha256: str) -> CodeDownload:
        """A short-lived URL to download a stored code bundle."""
        return self.send(routes.read_code_bundle(sha256))
