"""Pieces of the local stack that stand in for API Gateway: HTTP requests become the same
payload v2 events Lambda receives, so the API code path is the one that runs on AWS."""

from stratoflow_functions.local.events import http_api_event
from stratoflow_functions.local.http import ApiHttpServer
from stratoflow_functions.local.transport import ApiTransport

__all__ = ["ApiHttpServer", "ApiTransport", "http_api_event"]
