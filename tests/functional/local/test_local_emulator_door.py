"""The real embedded emulator (moto behind the door) in this process, reached with boto3 as
anyone on the machine could: without the stack's credentials nothing is read or written
(DynamoDB and S3, moto's own control API too); with them everything works, and so do the URLs
the code-bundle store presigns, until they are tampered with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from stratoflow_functions.local.emulator import Emulator
from stratoflow_functions.services.api_keys import hash_key
from stratoflow_functions.store import table_definition
from stratoflow_functions.store.code_bundles import CodeBundles

TABLE, BUCKET = "door", "stratoflow-door-code"
KEY = {"pk": {"S": f"API_KEY#{hash_key('sf_forged')}"}, "sk": {"S": "API_KEY"}}
FORGED = {**KEY, "entity": {"S": "api_key"}, "data": {"S": '{"scope": "admin"}'}}


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(tmp_path / "data")
    emulator.start()
    emulator.clients.dynamodb.create_table(**table_definition(TABLE))
    emulator.clients.s3.create_bucket(Bucket=BUCKET)
    emulator.clients.s3.put_object(Bucket=BUCKET, Key="secret.zip", Body=b"secret")
    yield emulator
    emulator.stop()
    from moto.backends import get_backend

    for name in ("dynamodb", "s3"):  # moto keeps one backend per process
        get_backend(name).reset()


def client(
    emulator: Emulator, service: str, key_id: str, secret: str | None, signing: Any = "s3v4"
) -> Any:
    """A boto3 client on the emulator's endpoint with these credentials (None: unsigned)."""
    version = UNSIGNED if secret is None else (signing if service == "s3" else "v4")
    signing = {"signature_version": version}
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **signing)
    make: Any = boto3.client
    return make(
        service,
        region_name="us-east-1",
        endpoint_url=emulator.url,
        config=config,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret or "unused",
        aws_session_token=None,
    )


OUTSIDERS = ["guessed keys", "the right key id, a guessed secret", "no signature"]


def outsider(emulator: Emulator, service: str, case: str) -> Any:
    """A client of someone else on the machine: the endpoint, but not the secret."""
    key_id = emulator.credentials.access_key_id if "right key id" in case else "AKIAGUESS"
    return client(emulator, service, key_id, None if case == "no signature" else "guess")


def insider(emulator: Emulator, service: str) -> Any:
    """A client with the stack's credentials."""
    credentials = emulator.credentials
    return client(emulator, service, credentials.access_key_id, credentials.secret_access_key)


def denied(call: Any, code: str) -> None:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("case", OUTSIDERS)
def test_an_outsider_can_neither_write_nor_read_dynamodb(emulator: Emulator, case: str) -> None:
    dynamodb = outsider(emulator, "dynamodb", case)
    denied(lambda: dynamodb.put_item(TableName=TABLE, Item=FORGED), "AccessDeniedException")
    denied(lambda: dynamodb.get_item(TableName=TABLE, Key=KEY), "AccessDeniedException")
    denied(lambda: dynamodb.scan(TableName=TABLE), "AccessDeniedException")
    assert "Item" not in emulator.clients.dynamodb.get_item(TableName=TABLE, Key=KEY)


@pytest.mark.parametrize("case", OUTSIDERS)
def test_an_outsider_can_neither_write_nor_read_s3(emulator: Emulator, case: str) -> None:
    s3 = outsider(emulator, "s3", case)
    denied(lambda: s3.get_object(Bucket=BUCKET, Key="secret.zip"), "AccessDenied")
    denied(lambda: s3.list_objects_v2(Bucket=BUCKET), "AccessDenied")
    denied(lambda: s3.put_object(Bucket=BUCKET, Key="evil.zip", Body=b"x"), "AccessDenied")
    listed = emulator.clients.s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [item["Key"] for item in listed] == ["secret.zip"]


def test_the_same_forgery_with_the_stack_credentials_goes_through(emulator: Emulator) -> None:
    # the control: what the outsiders lack is the secret, nothing else
    dynamodb = insider(emulator, "dynamodb")
    dynamodb.put_item(TableName=TABLE, Item=FORGED)
    assert dynamodb.get_item(TableName=TABLE, Key=KEY)["Item"] == FORGED
    assert emulator.front is not None
    assert emulator.front.refused == 0


def test_moto_control_api_is_closed(emulator: Emulator) -> None:
    assert httpx.post(f"{emulator.url}/moto-api/reset").status_code == 403
    assert httpx.get(f"{emulator.url}/moto-api/data.json").status_code == 403
    assert emulator.clients.s3.get_object(Bucket=BUCKET, Key="secret.zip")["Body"].read()


def test_urls_the_stack_presigns_work_and_tampered_ones_do_not(emulator: Emulator) -> None:
    bundles = CodeBundles(BUCKET, insider(emulator, "s3"))  # as the API presigns bundle URLs
    sha = "ab" * 32
    upload = bundles.upload(sha, 5).upload_url
    assert upload is not None
    assert httpx.put(upload, content=b"bytes").status_code == 200
    download = bundles.download(sha).download_url
    assert httpx.get(download).content == b"bytes"
    other = download.replace(f"bundles/{sha}.zip", "secret.zip")
    assert httpx.get(other).status_code == 403
    assert httpx.put(upload, content=b"longer!").status_code == 403  # the size is signed
    longer = upload.replace("X-Amz-Expires=900", "X-Amz-Expires=9000")
    assert longer != upload
    assert httpx.put(longer, content=b"bytes").status_code == 403
    assert httpx.get(download[:-1] + ("0" if download[-1] != "0" else "1")).status_code == 403


def test_only_sigv4_is_accepted(emulator: Emulator) -> None:
    credentials = emulator.credentials
    s3 = client(emulator, "s3", credentials.access_key_id, credentials.secret_access_key, "s3")
    url = s3.generate_presigned_url("get_object", {"Bucket": BUCKET, "Key": "secret.zip"})
    assert "AWSAccessKeyId=" in url  # signature version 2
    assert httpx.get(url).status_code == 403
