"""The one place where exceptions become HTTP answers with the error body and a stable code."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic import ValidationError

from stratoflow_functions.errors import StratoflowError

logger = Logger(service="stratoflow")


def error_body(code: str, message: str, details: Any = None) -> str:
    """The JSON error body."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json.dumps({"error": error}, default=str)


def error_response(status: int, code: str, message: str, details: Any = None) -> Response[str]:
    """An answer with the error body, for the resolver's exception handlers."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(code, message, details),
    )


def error_event_response(status: int, code: str, message: str) -> dict[str, Any]:
    """An HTTP API (payload v2) answer for errors raised before routing."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": error_body(code, message),
        "isBase64Encoded": False,
    }


def _validation_details(errors: Any) -> list[dict[str, Any]]:
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in errors
    ]


def _is_bad_json(errors: list[dict[str, Any]]) -> bool:
    return any(err.get("type") == "json_invalid" for err in errors)


def install_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Register the mapping of every exception the API can meet."""

    @app.exception_handler(StratoflowError)
    def _ours(exc: StratoflowError) -> Response[str]:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[str]:
        details = _validation_details(exc.errors())
        if _is_bad_json(details):
            return error_response(400, "invalid_json", "the request body is not valid JSON")
        return error_response(422, "validation_error", "the request is not valid", details)

    @app.exception_handler(RequestUnsupportedContentType)
    def _not_json(exc: RequestUnsupportedContentType) -> Response[str]:
        # `check_request` refuses these before routing; kept so none can ever be a 500.
        return error_response(415, "unsupported_media_type", "the API reads only JSON bodies")

    @app.exception_handler(ValidationError)
    def _invalid_value(exc: ValidationError) -> Response[str]:
        details = _validation_details(exc.errors())
        return error_response(422, "validation_error", "a value is not valid", details)

    @app.exception_handler(RouteNotFoundError)
    def _no_route(exc: RouteNotFoundError) -> Response[str]:
        return error_response(404, "route_not_found", "no such route")

    @app.exception_handler(Exception)
    def _bug(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "an internal error occurred; it is logged")
