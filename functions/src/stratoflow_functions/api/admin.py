"""`/work-queues`, `/agents`, `/concurrency-limits` and `/api-keys`."""

from __future__ import annotations

from uuid import UUID

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from stratoflow.schemas import (
    Agent,
    AgentHeartbeat,
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ClaimRequest,
    ClaimResponse,
    ConcurrencyLimit,
    ConcurrencyLimitUpdate,
    Page,
    WorkQueue,
    WorkQueueUpdate,
)
from stratoflow.schemas.common import Name, Tag
from stratoflow_functions.api.common import (
    DEFAULT_LIMIT,
    ApiDeps,
    Limit,
    NextToken,
    json_response,
    no_content,
)
from stratoflow_functions.api.responses import answers
from stratoflow_functions.services.api_keys import create_api_key
from stratoflow_functions.services.run_slots import check_user_tag
from stratoflow_functions.services.work_queues import claim_runs, update_work_queue


def work_router(deps: ApiDeps) -> APIGatewayHttpRouter:
    """Routes of `/work-queues` and `/agents`."""
    router = APIGatewayHttpRouter()
    store = deps.store

    @router.get(
        "/work-queues", tags=["work-queues"], operation_id="listWorkQueues", responses=answers(200)
    )
    def list_queues(limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None) -> Page[WorkQueue]:
        return store.work_queues.list(limit, next_token)

    @router.get(
        "/work-queues/<name>",
        tags=["work-queues"],
        operation_id="getWorkQueue",
        responses=answers(200, 404),
    )
    def get_queue(name: Name) -> WorkQueue:
        return store.work_queues.get(name)

    @router.put(
        "/work-queues/<name>",
        tags=["work-queues"],
        operation_id="putWorkQueue",
        responses=answers(200),
    )
    def put_queue(name: Name, body: WorkQueueUpdate) -> WorkQueue:
        return update_work_queue(store, name, body, deps.clock())

    @router.post(
        "/work-queues/<name>/claim",
        tags=["work-queues"],
        operation_id="claimRuns",
        responses=answers(200),
    )
    def claim(name: Name, body: ClaimRequest) -> ClaimResponse:
        return claim_runs(store, name, body, deps.clock())

    @router.get("/agents", tags=["agents"], operation_id="listAgents", responses=answers(200))
    def list_agents(limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None) -> Page[Agent]:
        return store.agents.list(limit, next_token)

    @router.post(
        "/agents/<agent_id>/heartbeat",
        tags=["agents"],
        operation_id="heartbeatAgent",
        responses=answers(200),
    )
    def agent_heartbeat(agent_id: UUID, body: AgentHeartbeat) -> Agent:
        return store.agents.heartbeat(agent_id, body, deps.clock())

    return router


def limits_router(deps: ApiDeps) -> APIGatewayHttpRouter:
    """Routes of `/concurrency-limits`."""
    router = APIGatewayHttpRouter()
    store = deps.store

    @router.get(
        "/concurrency-limits",
        tags=["concurrency-limits"],
        operation_id="listConcurrencyLimits",
        responses=answers(200),
    )
    def list_limits(
        limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
    ) -> Page[ConcurrencyLimit]:
        return store.concurrency.list(limit, next_token)

    @router.get(
        "/concurrency-limits/<tag>",
        tags=["concurrency-limits"],
        operation_id="getConcurrencyLimit",
        responses=answers(200, 404),
    )
    def get_limit(tag: Tag) -> ConcurrencyLimit:
        return store.concurrency.get(tag)

    @router.put(
        "/concurrency-limits/<tag>",
        tags=["concurrency-limits"],
        operation_id="putConcurrencyLimit",
        responses=answers(200),
    )
    def put_limit(tag: Tag, body: ConcurrencyLimitUpdate) -> ConcurrencyLimit:
        check_user_tag(tag)
        return store.concurrency.put(tag, body.limit, deps.clock())

    @router.delete(
        "/concurrency-limits/<tag>",
        tags=["concurrency-limits"],
        status_code=204,
        operation_id="deleteConcurrencyLimit",
        responses=answers(204, 404),
    )
    def delete_limit(tag: Tag) -> Response[None]:
        check_user_tag(tag)
        store.concurrency.delete(tag)
        return no_content()

    return router


def api_keys_router(deps: ApiDeps) -> APIGatewayHttpRouter:
    """Routes of `/api-keys` (the auth layer lets only admins through)."""
    router = APIGatewayHttpRouter()
    store = deps.store

    @router.post(
        "/api-keys",
        tags=["api-keys"],
        status_code=201,
        operation_id="createApiKey",
        responses=answers(201, 403),
    )
    def post_key(body: ApiKeyCreate) -> Response[ApiKeyCreated]:
        return json_response(create_api_key(store, body, deps.clock()), 201)

    @router.get(
        "/api-keys", tags=["api-keys"], operation_id="listApiKeys", responses=answers(200, 403)
    )
    def list_keys(limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None) -> Page[ApiKey]:
        return store.api_keys.list(limit, next_token)

    @router.delete(
        "/api-keys/<key_id>",
        tags=["api-keys"],
        operation_id="revokeApiKey",
        responses=answers(200, 403, 404),
    )
    def revoke_key(key_id: UUID) -> ApiKey:
        return store.api_keys.revoke(key_id)

    return router
