"""The embedded emulator's front door: a WSGI layer that lets through only requests signed
with the stack's credentials (SigV4, header-signed or presigned; checked in `sigv4.py`), and
answers anything else 403 in the error shape of the caller's protocol, before moto sees it.

moto's server takes any credentials, so without this anyone on the machine could write to the
control plane's table (forge an admin API key, say) or read its buckets. The body is read only
once the claim checks out; when the payload hash must come from the body itself (DynamoDB's
JSON requests), bodies over `MAX_HASHED_BODY` are refused unread (413), so an unauthenticated
caller cannot make the stack hold a large body in memory. (werkzeug's server closes every
connection after its answer, so a body left unread never runs into a next request.)
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from stratoflow_functions.local.sigv4 import (
    HEX_DIGEST,
    EmulatorCredentials,
    SignatureError,
    body_digest,
    check_claim,
    check_signature,
    declared_payload_hash,
    read_claim,
)

logger = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_HASHED_BODY = 32 * 1024 * 1024
"""The largest body hashed to check a signature (DynamoDB's largest request is 16 MB)."""


class RefusedError(Exception):
    """A request refused before it reached moto: its HTTP status, AWS error code and reason."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class SignedRequestsOnly:
    """Wrap a WSGI app so that only requests signed by `credentials` reach it."""

    def __init__(
        self,
        app: WsgiApp,
        credentials: EmulatorCredentials,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.credentials = credentials
        self.clock = clock
        self.refused = 0
        """How many requests were refused (a statistic for tests; not locked)."""

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Check the request's signature; pass it on, or answer 403 (413 for a huge body)."""
        try:
            self._admit(environ)
        except RefusedError as exc:
            self.refused += 1
            method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
            logger.info("emulator refused %s %s: %s", method, path, exc.message)
            return refusal(environ, start_response, exc)
        return self.app(environ, start_response)

    def _admit(self, environ: dict[str, Any]) -> None:
        try:
            claim = read_claim(environ)
            check_claim(claim, self.credentials, self.clock())
            declared = declared_payload_hash(claim, environ)
            if declared is None:
                body = read_body(environ, limit=MAX_HASHED_BODY)
                check_signature(claim, environ, body, self.credentials)
                return
            check_signature(claim, environ, b"", self.credentials)
        except SignatureError as exc:
            raise RefusedError(403, "AccessDenied", str(exc)) from exc
        body = read_body(environ, limit=None)
        if HEX_DIGEST.fullmatch(declared) and body_digest(body) != declared:
            raise RefusedError(403, "AccessDenied", "the body does not match its signed hash")


def read_body(environ: dict[str, Any], *, limit: int | None) -> bytes:
    """Read the whole body and put it back as a fresh stream for the layers below.

    Raises:
        RefusedError: a malformed Content-Length (400), or a body over `limit` (413).
    """
    raw_length = str(environ.get("CONTENT_LENGTH") or "")
    stream = environ.get("wsgi.input")
    if raw_length and not raw_length.isdigit():
        raise RefusedError(400, "BadRequest", "the Content-Length is not a number")
    length = int(raw_length) if raw_length else None
    if limit is not None and length is not None and length > limit:
        raise RefusedError(413, "RequestEntityTooLarge", f"the body is over {limit} bytes")
    if stream is None or (length is None and not environ.get("wsgi.input_terminated")):
        body = b""
    elif length is None:  # chunked: the server ends the stream by itself
        body = stream.read() if limit is None else stream.read(limit + 1)
    else:
        body = stream.read(length)
    if limit is not None and len(body) > limit:
        raise RefusedError(413, "RequestEntityTooLarge", f"the body is over {limit} bytes")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return bytes(body)


def refusal(
    environ: dict[str, Any], start_response: Callable[..., Any], refused: RefusedError
) -> list[bytes]:
    """The error answer a botocore client parses: JSON for JSON protocols, XML otherwise."""
    if environ.get("HTTP_X_AMZ_TARGET"):  # DynamoDB, Streams, EventBridge: the JSON protocol
        code = f"{refused.code}Exception" if refused.status == 403 else refused.code
        payload = json.dumps({"__type": code, "message": refused.message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", code)]
    else:
        payload = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{refused.code}</Code>'
            f"<Message>{escape(refused.message)}</Message></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml")]
    headers.append(("Content-Length", str(len(payload))))
    start_response(f"{refused.status} {_REASONS[refused.status]}", headers)
    return [payload]


_REASONS = {400: "Bad Request", 403: "Forbidden", 413: "Payload Too Large"}
