"""One builder per API route: each returns the frozen `Call` that both clients send.

The route table of the HTTP API lives here once; `_sync.py` and `_async.py` are one-line
wrappers over these builders.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from stratoflow.client._base import Call, adapter, model, no_content, page, query
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

Id = UUID | str


def _json(body: BaseModel) -> Any:
    return body.model_dump(mode="json", exclude_none=True)


def _proposal_json(proposal: StateProposal) -> Any:
    """A proposal's body; `logs` only when it carries lines (most proposals do not)."""
    exclude = None if proposal.logs else {"logs"}
    return proposal.model_dump(mode="json", exclude_none=True, exclude=exclude)


def health() -> Call[Health]:
    """`GET /health`."""
    return Call("GET", "/health", model(Health))


def openapi() -> Call[dict[str, Any]]:
    """`GET /openapi.json`."""
    return Call("GET", "/openapi.json", adapter(dict[str, Any]))


def create_flow(body: FlowCreate) -> Call[Flow]:
    """`POST /flows` (idempotent by name)."""
    return Call("POST", "/flows", model(Flow), _json(body))


def list_flows(limit: int | None, next_token: str | None) -> Call[Page[Flow]]:
    """`GET /flows`."""
    return Call(
        "GET", "/flows", model(Page[Flow]), params=query(limit=limit, next_token=next_token)
    )


def read_flow(flow_id: Id) -> Call[Flow]:
    """`GET /flows/{id}`."""
    return Call("GET", f"/flows/{flow_id}", model(Flow))


def create_deployment(body: DeploymentCreate) -> Call[Deployment]:
    """`POST /deployments` (an upsert by flow and name)."""
    return Call("POST", "/deployments", model(Deployment), _json(body))


def list_deployments(
    flow_id: Id | None, limit: int | None, next_token: str | None
) -> Call[Page[Deployment]]:
    """`GET /deployments`."""
    params = query(flow_id=flow_id, limit=limit, next_token=next_token)
    return Call("GET", "/deployments", model(Page[Deployment]), params=params)


def read_deployment(deployment_id: Id) -> Call[Deployment]:
    """`GET /deployments/{id}`."""
    return Call("GET", f"/deployments/{deployment_id}", model(Deployment))


def read_deployment_by_name(flow_name: str, name: str) -> Call[Deployment]:
    """`GET /deployments/by-name/{flow_name}/{name}`."""
    return Call("GET", f"/deployments/by-name/{flow_name}/{name}", model(Deployment))


def delete_deployment(deployment_id: Id) -> Call[None]:
    """`DELETE /deployments/{id}`."""
    return Call("DELETE", f"/deployments/{deployment_id}", no_content)


def pause_deployment(deployment_id: Id) -> Call[Deployment]:
    """`POST /deployments/{id}/pause`."""
    return Call("POST", f"/deployments/{deployment_id}/pause", model(Deployment))


def resume_deployment(deployment_id: Id) -> Call[Deployment]:
    """`POST /deployments/{id}/resume`."""
    return Call("POST", f"/deployments/{deployment_id}/resume", model(Deployment))


def create_deployment_run(deployment_id: Id, body: DeploymentRunCreate) -> Call[FlowRun]:
    """`POST /deployments/{id}/runs` (retried only when it carries an idempotency key)."""
    path = f"/deployments/{deployment_id}/runs"
    return Call("POST", path, model(FlowRun), _json(body), idempotent=bool(body.idempotency_key))


def create_flow_run(body: FlowRunCreate) -> Call[FlowRun]:
    """`POST /flow-runs` (retried only when it carries an idempotency key)."""
    idempotent = bool(body.idempotency_key)
    return Call("POST", "/flow-runs", model(FlowRun), _json(body), idempotent=idempotent)


def list_flow_runs(
    flt: FlowRunFilter | None, limit: int | None, next_token: str | None
) -> Call[Page[FlowRun]]:
    """`GET /flow-runs` with filters."""
    filters = flt.model_dump(exclude_none=True) if flt else {}
    if "tags" in filters:
        filters["tags"] = ",".join(filters["tags"]) or None
    params = query(**filters, limit=limit, next_token=next_token)
    return Call("GET", "/flow-runs", model(Page[FlowRun]), params=params)


def flow_run_stats(
    after: datetime, before: datetime, flow_id: Id | None, deployment_id: Id | None
) -> Call[FlowRunStats]:
    """`GET /flow-runs/stats`: exact counts by state type, per hour of expected start."""
    params = query(after=after, before=before, flow_id=flow_id, deployment_id=deployment_id)
    return Call("GET", "/flow-runs/stats", model(FlowRunStats), params=params)


def list_flow_run_states(flow_run_id: Id) -> Call[list[State]]:
    """`GET /flow-runs/{id}/states`: the run's state history, oldest first."""
    return Call("GET", f"/flow-runs/{flow_run_id}/states", adapter(list[State]))


def retry_flow_run(flow_run_id: Id) -> Call[OrchestrationResult]:
    """`POST /flow-runs/{id}/retry`: a finished deployment run back to its work queue."""
    return Call("POST", f"/flow-runs/{flow_run_id}/retry", model(OrchestrationResult))


def list_agents(limit: int | None, next_token: str | None) -> Call[Page[Agent]]:
    """`GET /agents`: the most recently seen first."""
    params = query(limit=limit, next_token=next_token)
    return Call("GET", "/agents", page(Agent), params=params)


def read_flow_run(flow_run_id: Id) -> Call[FlowRun]:
    """`GET /flow-runs/{id}`."""
    return Call("GET", f"/flow-runs/{flow_run_id}", model(FlowRun))


def set_flow_run_state(flow_run_id: Id, proposal: StateProposal) -> Call[OrchestrationResult]:
    """`POST /flow-runs/{id}/state`; idempotent when the proposal has a transition id."""
    path = f"/flow-runs/{flow_run_id}/state"
    idempotent = proposal.transition_id is not None
    body = _proposal_json(proposal)
    return Call("POST", path, model(OrchestrationResult), body, idempotent=idempotent)


def heartbeat_flow_run(flow_run_id: Id, body: FlowRunHeartbeat) -> Call[FlowRun]:
    """`POST /flow-runs/{id}/heartbeat`."""
    return Call("POST", f"/flow-runs/{flow_run_id}/heartbeat", model(FlowRun), _json(body))


def cancel_flow_run(flow_run_id: Id) -> Call[OrchestrationResult]:
    """`POST /flow-runs/{id}/cancel` (cancelling twice is harmless)."""
    return Call("POST", f"/flow-runs/{flow_run_id}/cancel", model(OrchestrationResult))


def list_task_runs(
    flow_run_id: Id, limit: int | None, next_token: str | None
) -> Call[Page[TaskRun]]:
    """`GET /flow-runs/{id}/task-runs`."""
    params = query(limit=limit, next_token=next_token)
    return Call("GET", f"/flow-runs/{flow_run_id}/task-runs", model(Page[TaskRun]), params=params)


def list_logs(flow_run_id: Id, limit: int | None, next_token: str | None) -> Call[Page[Log]]:
    """`GET /flow-runs/{id}/logs` (time order)."""
    params = query(limit=limit, next_token=next_token)
    return Call("GET", f"/flow-runs/{flow_run_id}/logs", model(Page[Log]), params=params)


def create_task_run(body: TaskRunCreate) -> Call[TaskRun]:
    """`POST /task-runs`; idempotent when the client chose the id."""
    return Call("POST", "/task-runs", model(TaskRun), _json(body), idempotent=body.id is not None)


def create_task_runs_batch(body: TaskRunBatch) -> Call[TaskRunBatchResponse]:
    """`POST /task-runs/batch`; retried only when nothing was applied (429, no connection)."""
    return Call(
        "POST", "/task-runs/batch", model(TaskRunBatchResponse), _json(body), idempotent=False
    )


def read_task_run(task_run_id: Id) -> Call[TaskRun]:
    """`GET /task-runs/{id}`."""
    return Call("GET", f"/task-runs/{task_run_id}", model(TaskRun))


def set_task_run_state(task_run_id: Id, proposal: StateProposal) -> Call[OrchestrationResult]:
    """`POST /task-runs/{id}/state`; idempotent when the proposal has a transition id."""
    path = f"/task-runs/{task_run_id}/state"
    idempotent = proposal.transition_id is not None
    body = _proposal_json(proposal)
    return Call("POST", path, model(OrchestrationResult), body, idempotent=idempotent)


def write_logs(logs: Sequence[LogCreate]) -> Call[LogsWritten]:
    """`POST /logs` (at most 1,000 lines)."""
    body = [line.model_dump(mode="json", exclude_none=True) for line in logs]
    return Call("POST", "/logs", model(LogsWritten), body, idempotent=False)


def list_work_queues(limit: int | None, next_token: str | None) -> Call[Page[WorkQueue]]:
    """`GET /work-queues`."""
    params = query(limit=limit, next_token=next_token)
    return Call("GET", "/work-queues", page(WorkQueue), params=params)


def read_work_queue(name: str) -> Call[WorkQueue]:
    """`GET /work-queues/{name}`."""
    return Call("GET", f"/work-queues/{name}", model(WorkQueue))


def update_work_queue(name: str, body: WorkQueueUpdate) -> Call[WorkQueue]:
    """`PUT /work-queues/{name}`."""
    return Call("PUT", f"/work-queues/{name}", model(WorkQueue), _json(body))


def claim_runs(name: str, body: ClaimRequest) -> Call[ClaimResponse]:
    """`POST /work-queues/{name}/claim`; never retried blindly (a lost answer loses a claim)."""
    path = f"/work-queues/{name}/claim"
    return Call("POST", path, model(ClaimResponse), _json(body), idempotent=False)


def agent_heartbeat(agent_id: Id, body: AgentHeartbeat) -> Call[Agent]:
    """`POST /agents/{id}/heartbeat`."""
    return Call("POST", f"/agents/{agent_id}/heartbeat", model(Agent), _json(body))


def list_concurrency_limits(
    limit: int | None, next_token: str | None
) -> Call[Page[ConcurrencyLimit]]:
    """`GET /concurrency-limits`."""
    params = query(limit=limit, next_token=next_token)
    return Call("GET", "/concurrency-limits", page(ConcurrencyLimit), params=params)


def read_concurrency_limit(tag: str) -> Call[ConcurrencyLimit]:
    """`GET /concurrency-limits/{tag}`."""
    return Call("GET", f"/concurrency-limits/{tag}", model(ConcurrencyLimit))


def set_concurrency_limit(tag: str, body: ConcurrencyLimitUpdate) -> Call[ConcurrencyLimit]:
    """`PUT /concurrency-limits/{tag}`."""
    return Call("PUT", f"/concurrency-limits/{tag}", model(ConcurrencyLimit), _json(body))


def delete_concurrency_limit(tag: str) -> Call[None]:
    """`DELETE /concurrency-limits/{tag}`."""
    return Call("DELETE", f"/concurrency-limits/{tag}", no_content)


def create_api_key(body: ApiKeyCreate) -> Call[ApiKeyCreated]:
    """`POST /api-keys` (admin)."""
    return Call("POST", "/api-keys", model(ApiKeyCreated), _json(body), idempotent=False)


def list_api_keys(limit: int | None, next_token: str | None) -> Call[Page[ApiKey]]:
    """`GET /api-keys` (admin)."""
    params = query(limit=limit, next_token=next_token)
    return Call("GET", "/api-keys", page(ApiKey), params=params)


def revoke_api_key(key_id: Id) -> Call[None]:
    """`DELETE /api-keys/{id}` (admin)."""
    return Call("DELETE", f"/api-keys/{key_id}", no_content)


def create_code_upload(body: CodeUploadRequest) -> Call[CodeUpload]:
    """`POST /code-bundles`: where to PUT a bundle (nothing to do when it is stored already)."""
    return Call("POST", "/code-bundles", model(CodeUpload), _json(body))


def read_code_bundle(sha256: str) -> Call[CodeDownload]:
    """`GET /code-bundles/{sha256}`: a short-lived URL to download a stored bundle."""
    return Call("GET", f"/code-bundles/{sha256}", model(CodeDownload))
