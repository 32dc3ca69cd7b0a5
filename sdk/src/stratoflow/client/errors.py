"""The API client's exception tree, translated from HTTP answers and transport failures.

```
StratoflowError
└── StratoflowClientError
    ├── ApiError(status, code, message)        any 4xx/5xx answer with an ErrorBody
    │   ├── BadRequestError        400          ├── PayloadTooLargeError   413
    │   ├── UnauthorizedError      401          ├── UnprocessableError     422
    │   ├── ForbiddenError         403          ├── ThrottledError         429
    │   ├── NotFoundError          404          └── ServerError            5xx
    │   └── ConflictError          409
    ├── ConnectError                            the API could not be reached
    └── RequestTimeoutError                     the API did not answer in time
```
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from stratoflow.exceptions import StratoflowError
from stratoflow.schemas import ErrorBody


class StratoflowClientError(StratoflowError):
    """Base of every error the API client raises."""


class ApiError(StratoflowClientError):
    """The API answered with an error status.

    Attributes:
        status: the HTTP status code.
        code: the API's machine-readable error code (`not_found`, `conflict`, ...).
        message: the API's human-readable message.
        details: optional structured details (validation errors, say).
    """

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class BadRequestError(ApiError):
    """400: the request is malformed."""


class UnauthorizedError(ApiError):
    """401: no credentials, or credentials the API does not recognise."""


class ForbiddenError(ApiError):
    """403: the caller may not use this route."""


class NotFoundError(ApiError):
    """404: the resource does not exist."""


class ConflictError(ApiError):
    """409: the resource changed (expected_version) or exists already."""


class PayloadTooLargeError(ApiError):
    """413: the body or one of its fields is over its size limit."""


class UnprocessableError(ApiError):
    """422: the request's values are invalid."""


class ThrottledError(ApiError):
    """429: too many requests; the client retries these with backoff."""


class ServerError(ApiError):
    """5xx: the API failed; always a server bug or an outage."""


class ConnectError(StratoflowClientError):
    """The API could not be reached (DNS, refused connection, TLS)."""


class RequestTimeoutError(StratoflowClientError):
    """The API did not answer within the client's timeout."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableError,
    429: ThrottledError,
}


def error_from_response(response: httpx.Response) -> ApiError:
    """Build the `ApiError` subclass that matches an error response."""
    cls = _BY_STATUS.get(response.status_code)
    if cls is None:
        cls = ServerError if response.status_code >= 500 else ApiError
    try:
        detail = ErrorBody.model_validate_json(response.content).error
    except ValidationError:
        text = response.text[:500] or response.reason_phrase
        return cls(response.status_code, "http_error", text)
    return cls(response.status_code, detail.code, detail.message, detail.details)
