"""The emulator's front door (`SignedRequestsOnly`) over real HTTP, in front of an app that
echoes what it got: requests signed by botocore with the stack's credentials pass, body and
all; wrong keys, tampering of any signed part, stale dates and expired or altered presigned
URLs are refused with the AWS error shape, before the app sees anything."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from werkzeug.serving import make_server

from stratoflow_functions.local.signed_only import MAX_HASHED_BODY, SignedRequestsOnly
from stratoflow_functions.local.sigv4 import EmulatorCredentials

CREDENTIALS = EmulatorCredentials.generate()
TARGET = "DynamoDB_20120810.PutItem"


class Door:
    """A running door: its URL, the clock offset it sees, and what reached the app."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.seen: list[bytes] = []
        self.front = SignedRequestsOnly(self._echo, CREDENTIALS, clock=self._clock)
        self.url = ""

    def _clock(self) -> float:
        return time.time() + self.offset

    def _echo(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.seen.append(body)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body]


@pytest.fixture(scope="module")
def door() -> Iterator[Door]:
    door = Door()
    server = make_server("127.0.0.1", 0, door.front, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    door.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield door
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def fresh(door: Door) -> None:
    door.offset = 0.0
    door.seen.clear()


def signed(
    url: str,
    body: bytes,
    *,
    service: str = "dynamodb",
    method: str = "POST",
    secret: str = CREDENTIALS.secret_access_key,
    key_id: str = CREDENTIALS.access_key_id,
) -> AWSRequest:
    """A request signed by botocore's own signer, as a boto3 client would send it."""
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    if service == "dynamodb":
        headers["X-Amz-Target"] = TARGET
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials(key_id, secret), service, "us-east-1").add_auth(request)
    return request


def send(request: AWSRequest, **changes: Any) -> httpx.Response:
    """Send a signed request, with `headers`, `content` or `url` replaced to tamper with it."""
    headers = {**dict(request.headers.items()), **changes.pop("headers", {})}
    return httpx.request(
        str(request.method),
        changes.pop("url", request.url),
        headers=headers,
        content=changes.pop("content", request.body),
    )


def error_code(answer: httpx.Response) -> str:
    if answer.headers["content-type"].startswith("application/x-amz-json"):
        return str(answer.json()["__type"])
    return answer.text.split("<Code>")[1].split("</Code>")[0]


def test_a_request_signed_with_the_stack_credentials_reaches_the_app(door: Door) -> None:
    answer = send(signed(door.url + "/", b'{"TableName": "t"}'))
    assert answer.status_code == 200
    assert door.seen == [b'{"TableName": "t"}']


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("wrong secret", "the signature does not match"),
        ("unknown key id", "unknown access key id"),
        ("body changed", "the signature does not match"),
        ("signed header changed", "the signature does not match"),
        ("query added", "the signature does not match"),
        ("unsigned", "the request is not signed"),
        ("16 minutes old", "more than 15 minutes"),
    ],
)
def test_anything_else_is_refused_before_the_app_sees_it(door: Door, case: str, why: str) -> None:
    body, url = b'{"TableName": "t"}', door.url + "/"
    tampering: dict[str, dict[str, Any]] = {
        "wrong secret": {},
        "unknown key id": {},
        "body changed": {"content": b'{"TableName": "u"}'},
        "signed header changed": {"headers": {"X-Amz-Target": "DynamoDB_20120810.DeleteItem"}},
        "query added": {"url": url + "?Action=Reset"},
        "unsigned": {"headers": {"Authorization": ""}},
        "16 minutes old": {},
    }
    secret = "guessed" if case == "wrong secret" else CREDENTIALS.secret_access_key
    key_id = "AKIAFORGED" if case == "unknown key id" else CREDENTIALS.access_key_id
    door.offset = 16 * 60 if case == "16 minutes old" else 0.0
    answer = send(signed(url, body, secret=secret, key_id=key_id), **tampering[case])
    assert answer.status_code == 403
    assert error_code(answer) == "AccessDeniedException"
    assert why in answer.json()["message"]
    assert door.seen == []


def test_an_s3_body_must_match_its_signed_hash(door: Door) -> None:
    request = signed(door.url + "/bucket/key.zip", b"good", service="s3", method="PUT")
    assert request.headers["X-Amz-Content-SHA256"] == hashlib.sha256(b"good").hexdigest()
    assert send(request).status_code == 200
    answer = send(request, content=b"evil")
    assert (answer.status_code, error_code(answer)) == (403, "AccessDenied")
    assert "does not match its signed hash" in answer.text
    assert door.seen == [b"good"]


def test_chunk_signed_streaming_payloads_are_not_accepted(door: Door) -> None:
    request = signed(door.url + "/bucket/key.zip", b"x", service="s3", method="PUT")
    request.headers.replace_header("X-Amz-Content-SHA256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    assert send(request).status_code == 403
    assert door.seen == []


def presigner(door: Door, secret: str = CREDENTIALS.secret_access_key) -> Any:
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=door.url,
        aws_access_key_id=CREDENTIALS.access_key_id,
        aws_secret_access_key=secret,
        aws_session_token=None,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def test_presigned_urls_work_until_they_expire_and_bind_what_they_sign(door: Door) -> None:
    s3 = presigner(door)
    get = s3.generate_presigned_url("get_object", {"Bucket": "b", "Key": "a b.zip"}, ExpiresIn=60)
    put = s3.generate_presigned_url(
        "put_object", {"Bucket": "b", "Key": "up.zip", "ContentLength": 4}, ExpiresIn=60
    )
    assert httpx.get(get).status_code == 200
    assert httpx.put(put, content=b"four").status_code == 200
    assert httpx.put(put, content=b"five!").status_code == 403  # content-length is signed
    assert httpx.get(get, headers={"Host": "127.0.0.2:9"}).status_code == 403  # so is host
    door.offset = 61
    expired = httpx.get(get)
    assert (expired.status_code, error_code(expired)) == (403, "AccessDenied")
    assert "expired" in expired.text


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("a%20b.zip", "other.zip"),
        lambda url: url.replace("X-Amz-Expires=60", "X-Amz-Expires=600"),
        lambda url: url[:-1] + ("0" if url[-1] != "0" else "1"),
        lambda url: url + "&versionId=1",
    ],
    ids=["other key", "longer expiry", "signature", "extra parameter"],
)
def test_a_tampered_presigned_url_is_refused(door: Door, tamper: Callable[[str], str]) -> None:
    url = presigner(door).generate_presigned_url(
        "get_object", {"Bucket": "b", "Key": "a b.zip"}, ExpiresIn=60
    )
    assert httpx.get(tamper(url)).status_code == 403
    assert door.seen == []


def test_a_url_presigned_with_another_secret_is_refused(door: Door) -> None:
    s3 = presigner(door, secret="not-the-stack-secret")
    url = s3.generate_presigned_url("get_object", {"Bucket": "b", "Key": "k"}, ExpiresIn=60)
    assert httpx.get(url).status_code == 403


def call(front: SignedRequestsOnly, environ: dict[str, Any]) -> tuple[str, bytes]:
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[Any]) -> None:
        answer["status"] = status

    body = b"".join(front(environ, start_response))
    return answer["status"], body


class Unreadable(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body of a refused request was read")


def test_a_huge_body_to_hash_and_a_bad_length_are_refused_unread(door: Door) -> None:
    request = signed("http://127.0.0.1/", b"{}")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": request.headers["Authorization"],
        "HTTP_X_AMZ_DATE": request.headers["X-Amz-Date"],
        "HTTP_X_AMZ_TARGET": TARGET,
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "wsgi.input": Unreadable(),
    }
    status, body = call(door.front, {**environ, "CONTENT_LENGTH": str(MAX_HASHED_BODY + 1)})
    assert status.startswith("413")
    assert b"RequestEntityTooLarge" in body
    status, _ = call(door.front, {**environ, "CONTENT_LENGTH": "-5"})
    assert status.startswith("400")
    assert door.seen == []
