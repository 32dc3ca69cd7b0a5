"""An httpx transport that calls the API in-process, through the same events Lambda gets."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from stratoflow_functions.api import ApiApp
from stratoflow_functions.local.events import http_api_event


class ApiTransport(httpx.BaseTransport):
    """Send httpx requests straight to an `ApiApp` (tests, benchmarks, the local stack)."""

    def __init__(self, app: ApiApp) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Turn the request into an event, the handler's answer into a response."""
        event = http_api_event(
            request.method,
            request.url.path,
            query=request.url.query.decode("ascii"),
            headers=dict(request.headers),
            body=request.read(),
        )
        return to_httpx_response(self.app.handle(event, None), request)


def to_httpx_response(answer: dict[str, Any], request: httpx.Request) -> httpx.Response:
    """An httpx response from a Lambda proxy answer."""
    body = answer.get("body") or ""
    content = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
    headers = dict(answer.get("headers") or {})
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    for cookie in answer.get("cookies") or []:
        headers.setdefault("set-cookie", cookie)
    return httpx.Response(
        answer.get("statusCode", 200), headers=headers, content=content, request=request
    )
