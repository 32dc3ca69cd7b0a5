"""AWS Signature Version 4 checked on the embedded emulator's side, so that only holders of
the stack's credentials (and URLs the stack presigned) get through (see `signed_only.py`).

A request's claim (its credential scope, signed headers, date and signature, from the
`Authorization` header or, for a presigned URL, the `X-Amz-*` query parameters) is checked
first: the access key id, the algorithm, the scope and the clock (15 minutes either way for a
signed header; for a presigned URL its own expiry). Then the signature is recomputed by
botocore's own signer (`SigV4Auth`, `S3SigV4Auth` or `S3SigV4QueryAuth`) over the canonical
request rebuilt from what arrived on the wire (the raw path and query, the signed headers
only), and compared in constant time. The payload is covered as SigV4 defines it: by the
signed `x-amz-content-sha256` header (checked against the body), by hashing the body, or not
at all for `UNSIGNED-PAYLOAD` (presigned URLs), where the signature still proves the secret.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
CLOCK_SKEW_SECONDS = 15 * 60
"""How far a header-signed request's date may be from now (AWS allows the same)."""
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""The longest expiry a presigned URL may ask for (AWS's limit)."""
TIMESTAMP = "%Y%m%dT%H%M%SZ"
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


class SignatureError(Exception):
    """A request is not signed by the stack's credentials (the reason is the message)."""


@dataclass(frozen=True)
class EmulatorCredentials:
    """The only credentials the emulator accepts: new random ones at each start of the stack."""

    access_key_id: str
    secret_access_key: str = field(repr=False)

    @classmethod
    def generate(cls) -> EmulatorCredentials:
        """Fresh credentials from the OS's random source (256 bits of secret)."""
        return cls(f"SFLOCAL{secrets.token_hex(8).upper()}", secrets.token_urlsafe(32))

    def environment(self) -> dict[str, str]:
        """These credentials as the variables boto3 and pynamodb read."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }


@dataclass(frozen=True)
class Claim:
    """What a request says about its own signature (nothing of it is trusted yet)."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    presigned: bool
    expires: int = 0


def read_claim(environ: Mapping[str, Any]) -> Claim:
    """The signature claim of a request, from its `Authorization` header or its query.

    Raises:
        SignatureError: the request carries no SigV4 signature, or a malformed one.
    """
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    if header:
        return _header_claim(header, environ)
    query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    if "X-Amz-Signature" in query:
        return _query_claim(query)
    raise SignatureError("the request is not signed")


def _header_claim(header: str, environ: Mapping[str, Any]) -> Claim:
    match = _AUTHORIZATION.fullmatch(header.strip())
    if match is None:
        raise SignatureError("the Authorization header is not an AWS4-HMAC-SHA256 signature")
    timestamp = str(environ.get("HTTP_X_AMZ_DATE", ""))
    headers = tuple(match["headers"].split(";"))
    if "x-amz-date" not in headers:
        raise SignatureError("the x-amz-date header is not signed")
    return _claim(match["credential"], headers, match["signature"], timestamp, None)


def _query_claim(query: Mapping[str, list[str]]) -> Claim:
    def one(name: str) -> str:
        values = query.get(name, [])
        if len(values) != 1:
            raise SignatureError(f"the presigned URL needs exactly one {name}")
        return values[0]

    if one("X-Amz-Algorithm") != ALGORITHM:
        raise SignatureError(f"only {ALGORITHM} presigned URLs are accepted")
    expires = one("X-Amz-Expires")
    if not expires.isdigit() or not 0 < int(expires) <= MAX_PRESIGN_SECONDS:
        raise SignatureError("the presigned URL's X-Amz-Expires is not 1 to 604800 seconds")
    headers = tuple(one("X-Amz-SignedHeaders").split(";"))
    signature = one("X-Amz-Signature")
    return _claim(one("X-Amz-Credential"), headers, signature, one("X-Amz-Date"), int(expires))


def _claim(
    credential: str, headers: tuple[str, ...], signature: str, timestamp: str, expires: int | None
) -> Claim:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise SignatureError("the credential scope is not KEY/DATE/REGION/SERVICE/aws4_request")
    if "host" not in headers or list(headers) != sorted(set(headers)):
        raise SignatureError("the signed headers must be sorted, unique and include host")
    if not HEX_DIGEST.fullmatch(signature):
        raise SignatureError("the signature is not 64 hexadecimal digits")
    key, date, region, service, _ = parts
    return Claim(
        key, date, region, service, headers, signature, timestamp, expires is not None, expires or 0
    )


def check_claim(claim: Claim, credentials: EmulatorCredentials, now: float) -> None:
    """Check everything but the signature itself: the key, the scope's date and the clock.

    Raises:
        SignatureError: saying what is wrong.
    """
    if not hmac.compare_digest(claim.access_key_id, credentials.access_key_id):
        raise SignatureError("unknown access key id")
    signed_at = _parse_timestamp(claim.timestamp)
    if claim.date != claim.timestamp[:8]:
        raise SignatureError("the credential scope's date is not the request's date")
    if claim.presigned:
        if now > signed_at + claim.expires:
            raise SignatureError("the presigned URL has expired")
        if signed_at - now > CLOCK_SKEW_SECONDS:
            raise SignatureError("the presigned URL is dated in the future")
    elif abs(now - signed_at) > CLOCK_SKEW_SECONDS:
        raise SignatureError("the request's date is more than 15 minutes from now")


def _parse_timestamp(timestamp: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(timestamp, TIMESTAMP)))
    except ValueError as exc:
        raise SignatureError("the request's date is not YYYYMMDDTHHMMSSZ") from exc


def declared_payload_hash(claim: Claim, environ: Mapping[str, Any]) -> str | None:
    """The payload hash the signature covers without reading the body; None: hash the body.

    Raises:
        SignatureError: a signed payload hash that is neither a digest nor UNSIGNED-PAYLOAD
            (chunk-signed streaming uploads are not accepted).
    """
    if claim.presigned:
        if claim.service != "s3":
            raise SignatureError("only S3 URLs may be presigned")
        return UNSIGNED_PAYLOAD
    if "x-amz-content-sha256" not in claim.signed_headers:
        return None
    declared = str(environ.get("HTTP_X_AMZ_CONTENT_SHA256", ""))
    if declared != UNSIGNED_PAYLOAD and not HEX_DIGEST.fullmatch(declared):
        raise SignatureError(f"unsupported x-amz-content-sha256 {declared[:40]!r}")
    return declared


def check_signature(
    claim: Claim, environ: Mapping[str, Any], body: bytes, credentials: EmulatorCredentials
) -> None:
    """Recompute the signature with botocore's signer and compare it with the claim's.

    Args:
        claim: The request's claim (already through `check_claim`).
        environ: The WSGI environ as the server built it (raw URI, headers).
        body: The body, when the payload hash is not declared by a signed header (else b"").
        credentials: The stack's credentials.

    Raises:
        SignatureError: the signature does not match.
    """
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
    from botocore.credentials import Credentials

    keys = Credentials(credentials.access_key_id, credentials.secret_access_key)
    signer_class = SigV4Auth
    if claim.service == "s3":
        signer_class = S3SigV4QueryAuth if claim.presigned else S3SigV4Auth
    signer = signer_class(keys, claim.service, claim.region)
    request = _wire_request(claim, environ, body)
    signed = signer.signed_headers(signer.headers_to_sign(request))
    if signed != ";".join(claim.signed_headers):
        raise SignatureError("the signed headers cannot be reproduced")
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, claim.signature):
        raise SignatureError("the signature does not match")


def _wire_request(claim: Claim, environ: Mapping[str, Any], body: bytes) -> Any:
    """The request as the client signed it: raw path and query, the signed headers only."""
    from botocore.awsrequest import AWSRequest

    raw = urlsplit(str(environ.get("RAW_URI") or environ.get("PATH_INFO") or "/"))
    query = raw.query
    if claim.presigned:  # the signature is appended after signing: it is not part of it
        query = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))
    headers = {name: _header(environ, name) for name in claim.signed_headers}
    url = f"http://{headers['host']}{raw.path or '/'}" + (f"?{query}" if query else "")
    request = AWSRequest(method=str(environ.get("REQUEST_METHOD", "GET")), url=url, data=body)
    for name, value in headers.items():
        request.headers[name] = value
    request.context["timestamp"] = claim.timestamp
    return request


def _header(environ: Mapping[str, Any], name: str) -> str:
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = f"HTTP_{key}"
    value = environ.get(key)
    if value is None:
        raise SignatureError(f"the signed header {name} is missing")
    return str(value)


def body_digest(body: bytes) -> str:
    """The SHA-256 of a body, as `x-amz-content-sha256` carries it."""
    return hashlib.sha256(body).hexdigest()
