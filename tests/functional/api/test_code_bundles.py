"""Code bundles: presigned URLs by content hash; an upload is skipped when the content exists."""

from __future__ import annotations

import hashlib

import boto3

from stratoflow_functions.config import Settings
from stratoflow_functions.store.code_bundles import bundle_key
from tests.support import ApiCaller

ZIP = b"PK\x05\x06" + b"\x00" * 18
SHA = hashlib.sha256(ZIP).hexdigest()


def _bucket(settings: Settings):
    s3 = boto3.client("s3", region_name=settings.region)
    s3.create_bucket(Bucket=settings.code_bucket)
    return s3


def test_new_bundle_gets_an_upload_url(api: ApiCaller, settings: Settings) -> None:
    _bucket(settings)
    answer = api.post("/code-bundles", {"sha256": SHA, "size": len(ZIP)})
    assert answer.status == 200
    assert answer.body["exists"] is False
    assert answer.body["uri"] == f"s3://{settings.code_bucket}/bundles/{SHA}.zip"
    assert "X-Amz-Signature" in answer.body["upload_url"]


def test_stored_bundle_is_not_uploaded_again(api: ApiCaller, settings: Settings) -> None:
    _bucket(settings).put_object(Bucket=settings.code_bucket, Key=bundle_key(SHA), Body=ZIP)
    answer = api.post("/code-bundles", {"sha256": SHA, "size": len(ZIP)})
    assert answer.body["exists"] is True
    assert answer.body["upload_url"] is None
    download = api.get(f"/code-bundles/{SHA}")
    assert download.status == 200
    assert bundle_key(SHA) in download.body["download_url"]


def test_missing_bundle_is_a_404(api: ApiCaller, settings: Settings) -> None:
    _bucket(settings)
    assert api.get(f"/code-bundles/{SHA}").status == 404


def test_bad_hash_is_a_422(api: ApiCaller) -> None:
    assert api.get("/code-bundles/not-a-hash").status == 422
    assert api.post("/code-bundles", {"sha256": "abc", "size": 1}).status == 422
