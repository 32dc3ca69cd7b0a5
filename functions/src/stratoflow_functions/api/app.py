"""The HTTP API: one powertools resolver, a router per resource, auth and size checks in front.

`ApiApp.handle` takes an API Gateway HTTP API (payload v2) event: the same object serves
Lambda and the local stack's HTTP adapter, whose threads call it at once (each request gets a
resolver of its own from a pool: see `api/resolvers.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import Server

from stratoflow import __version__
from stratoflow.schemas import Health
from stratoflow_functions.api.admin import api_keys_router, limits_router, work_router
from stratoflow_functions.api.auth import authenticate
from stratoflow_functions.api.common import ApiDeps
from stratoflow_functions.api.errors import error_event_response, install_error_handlers
from stratoflow_functions.api.flows import code_router, deployments_router, flows_router
from stratoflow_functions.api.requests import body_bytes, check_request
from stratoflow_functions.api.resolvers import RequestScopedResolver, ResolverPool
from stratoflow_functions.api.responses import open_answers, prune_unused_schemas
from stratoflow_functions.api.runs import (
    flow_run_views_router,
    flow_runs_router,
    task_runs_router,
)
from stratoflow_functions.api.ui import is_ui_path, serve
from stratoflow_functions.errors import PayloadTooLargeError, StratoflowError
from stratoflow_functions.services.api_keys import authenticate_key

TITLE = "Stratoflow API"
BEARER_SCHEME = "bearerAuth"


def build_resolver(deps: ApiDeps) -> RequestScopedResolver:
    """The resolver with every route and the error mapping."""
    app = RequestScopedResolver(enable_validation=True)
    for router in (
        flows_router(deps),
        deployments_router(deps),
        code_router(deps),
        flow_run_views_router(deps),
        flow_runs_router(deps),
        task_runs_router(deps),
        work_router(deps),
        limits_router(deps),
        api_keys_router(deps),
    ):
        app.include_router(router)
    _add_meta_routes(app)
    install_error_handlers(app)
    return app


def openapi_document(app: APIGatewayHttpResolver) -> str:
    """The OpenAPI 3 document of `app`, as JSON."""
    document = app.get_openapi_json_schema(
        title=TITLE,
        version=__version__,
        description="Serverless workflow orchestration for Python. Errors have the body "
        '`{"error": {"code": "snake_case_code", "message": "…"}}`.',
        servers=[Server(url="/")],
        security_schemes={BEARER_SCHEME: {"type": "http", "scheme": "bearer"}},  # type: ignore[dict-item]
        security=[{BEARER_SCHEME: []}],
    )
    return prune_unused_schemas(document)


def _add_meta_routes(app: APIGatewayHttpResolver) -> None:
    @app.get(
        "/health",
        tags=["meta"],
        security=[{}],
        operation_id="getHealth",
        responses=open_answers(200),
    )
    def health() -> Health:
        return Health(version=__version__)

    @app.get("/openapi.json", tags=["meta"], include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(
            status_code=200, content_type="application/json", body=openapi_document(app)
        )


class ApiApp:
    """The API as a callable for API Gateway HTTP API events."""

    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps
        self.resolvers = ResolverPool(lambda: build_resolver(deps))

    def handle(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Check size, caller and the request's shape (`check_request`), then route.

        The dashboard's static files (`/ui`, `api/ui.py`) are served before auth.
        """
        try:
            self._check_size(event)
            if is_ui_path(str(event.get("rawPath", "/"))):
                return serve(event)
            authenticate(event, self.deps.settings, self._check_key)
            routed = check_request(event)
        except StratoflowError as exc:
            return error_event_response(exc.status, exc.code, exc.message)
        with self.resolvers.lease() as resolver:
            return resolver.resolve(routed, context)

    def _check_key(self, key: str) -> Any:
        return authenticate_key(self.deps.store, key)

    def _check_size(self, event: Mapping[str, Any]) -> None:
        size = len(body_bytes(event))
        limit = self.deps.settings.max_body_bytes
        if size > limit:
            raise PayloadTooLargeError(
                f"the body is {size} bytes; the limit is {limit} bytes", code="body_too_large"
            )
