"""The HTTP API: powertools routers per resource over the services, auth, error mapping."""

from stratoflow_functions.api.app import ApiApp, build_resolver, openapi_document
from stratoflow_functions.api.auth import Principal, authenticate
from stratoflow_functions.api.common import ApiDeps

__all__ = ["ApiApp", "ApiDeps", "Principal", "authenticate", "build_resolver", "openapi_document"]
