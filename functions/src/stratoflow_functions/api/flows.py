"""`/flows` and `/deployments`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from stratoflow.schemas import (
    CodeDownload,
    CodeUpload,
    CodeUploadRequest,
    Deployment,
    DeploymentCreate,
    DeploymentRunCreate,
    Flow,
    FlowCreate,
    FlowRun,
    Page,
)
from stratoflow.schemas.common import Name
from stratoflow_functions.api.common import (
    DEFAULT_LIMIT,
    ApiDeps,
    Limit,
    NextToken,
    created,
    no_content,
)
from stratoflow_functions.api.responses import answers, created_answers
from stratoflow_functions.services.catalog import (
    register_flow,
    remove_deployment,
    set_deployment_paused,
    upsert_deployment,
)
from stratoflow_functions.services.flow_runs import create_deployment_run

SHA256 = r"^[0-9a-f]{64}$"


def flows_router(deps: ApiDeps) -> APIGatewayHttpRouter:
    """Routes of `/flows`."""
    router = APIGatewayHttpRouter()
    store = deps.store

    @router.post(
        "/flows",
        tags=["flows"],
        status_code=201,
        operation_id="createFlow",
        responses=created_answers(),
    )
    def post_flow(body: FlowCreate) -> Response[Flow]:
        flow, is_new = register_flow(store, body, deps.clock())
        return created(flow, is_new)

    @router.get("/flows", tags=["flows"], operation_id="listFlows", responses=answers(200))
    def list_flows(limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None) -> Page[Flow]:
        return store.flows.list(limit, next_token)

    @router.get(
        "/flows/<flow_id>", tags=["flows"], operation_id="getFlow", responses=answers(200, 404)
    )
    def get_flow(flow_id: UUID) -> Flow:
        return store.flows.get(flow_id)

    return router


def deployments_router(deps: ApiDeps) -> APIGatewayHttpRouter:
    """Routes of `/deployments`."""
    router = APIGatewayHttpRouter()
    store = deps.store

    @router.post(
        "/deployments",
        tags=["deployments"],
        status_code=201,
        operation_id="createDeployment",
        responses=created_answers(404, 409),
    )
    def post_deployment(body: DeploymentCreate) -> Response[Deployment]:
        deployment, is_new = upsert_deployment(
            store, body, deps.clock(), code_bucket=deps.settings.code_bucket, settings=deps.settings
        )
        return created(deployment, is_new)

    @router.get(
        "/deployments", tags=["deployments"], operation_id="listDeployments", responses=answers(200)
    )
    def list_deployments(
        flow_id: UUID | None = None, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
    ) -> Page[Deployment]:
        return store.deployments.list(limit, next_token, flow_id=flow_id)

    @router.get(
        "/deployments/by-name/<flow_name>/<name>",
        tags=["deployments"],
        operation_id="getDeploymentByName",
        responses=answers(200, 404),
    )
    def get_deployment_by_name(flow_name: Name, name: Name) -> Deployment:
        return store.deployments.get_by_name(flow_name, name)

    @router.get(
        "/deployments/<deployment_id>",
        tags=["deployments"],
        operation_id="getDeployment",
        responses=answers(200, 404),
    )
    def get_deployment(deployment_id: UUID) -> Deployment:
        return store.deployments.get(deployment_id)

    @router.delete(
        "/deployments/<deployment_id>",
        tags=["deployments"],
        status_code=204,
        operation_id="deleteDeployment",
        responses=answers(204, 404),
    )
    def delete_deployment(deployment_id: UUID) -> Response[None]:
        remove_deployment(store, deployment_id, deps.clock())
        return no_content()

    @router.post(
        "/deployments/<deployment_id>/pause",
        tags=["deployments"],
        operation_id="pauseDeployment",
        responses=answers(200, 404, 409),
    )
    def pause_deployment(deployment_id: UUID) -> Deployment:
        return set_deployment_paused(store, deployment_id, True, deps.clock())

    @router.post(
        "/deployments/<deployment_id>/resume",
        tags=["deployments"],
        operation_id="resumeDeployment",
        responses=answers(200, 404, 409),
    )
    def resume_deployment(deployment_id: UUID) -> Deployment:
        return set_deployment_paused(
            store, deployment_id, False, deps.clock(), settings=deps.settings
        )

    @router.post(
        "/deployments/<deployment_id>/runs",
        tags=["deployments"],
        status_code=201,
        operation_id="runDeployment",
        responses=created_answers(404, 409),
    )
    def run_deployment(deployment_id: UUID, body: DeploymentRunCreate) -> Response[FlowRun]:
        run, is_new = create_deployment_run(
            store, deployment_id, body, deps.clock(), deps.run_dispatcher
        )
        return created(run, is_new)

    return router


def code_router(deps: ApiDeps) -> APIGatewayHttpRouter:
    """Routes of `/code-bundles`: presigned URLs to the code bucket, by content hash."""
    router = APIGatewayHttpRouter()

    @router.post(
        "/code-bundles",
        tags=["deployments"],
        operation_id="createCodeUpload",
        responses=answers(200),
    )
    def post_code_bundle(body: CodeUploadRequest) -> CodeUpload:
        return deps.code().upload(body.sha256, body.size)

    @router.get(
        "/code-bundles/<sha256>",
        tags=["deployments"],
        operation_id="getCodeDownload",
        responses=answers(200, 404),
    )
    def get_code_bundle(sha256: Annotated[str, Path(pattern=SHA256)]) -> CodeDownload:
        return deps.code().download(sha256)

    return router
