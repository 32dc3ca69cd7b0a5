"""The control plane's exception tree.

Services raise these; the API maps each to an HTTP status and a stable error code in one place
(`stratoflow_functions.api.errors`). Nothing else in `functions/` chooses a status code.
"""

from __future__ import annotations


class StratoflowError(Exception):
    """Base of every error the control plane raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequestError(StratoflowError):
    """The request is malformed in a way validation did not catch (a bad token, say)."""

    status = 400
    code = "bad_request"


class UnauthorizedError(StratoflowError):
    """No caller, or a caller we do not recognise."""

    status = 401
    code = "unauthorized"


class ForbiddenError(StratoflowError):
    """A known caller without the scope for this route."""

    status = 403
    code = "forbidden"


class NotFoundError(StratoflowError):
    """The resource does not exist."""

    status = 404
    code = "not_found"


class ConflictError(StratoflowError):
    """A conditional write lost: the resource changed, or exists already."""

    status = 409
    code = "conflict"


class PayloadTooLargeError(StratoflowError):
    """The body, or a field of it, is over its size limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(StratoflowError):
    """The body is not JSON (the API reads nothing else)."""

    status = 415
    code = "unsupported_media_type"


class UnprocessableError(StratoflowError):
    """The request is well-formed but its values are invalid (a bad cron, say)."""

    status = 422
    code = "validation_error"


class ThrottledError(StratoflowError):
    """Too many requests, or DynamoDB throttled us; retry with backoff."""

    status = 429
    code = "throttled"
