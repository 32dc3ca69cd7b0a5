"""Code bundles in the code bucket, addressed by content hash, reached through presigned URLs
so the CLI and the engine need no AWS credentials of their own."""

from __future__ import annotations

from typing import Any

from stratoflow.schemas import CodeDownload, CodeUpload
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import NotFoundError

URL_SECONDS = 900
"""How long a presigned URL stays valid."""


def bundle_key(sha256: str) -> str:
    """Where a bundle with this content hash lives in the bucket."""
    return f"bundles/{sha256}.zip"


def s3_client(settings: Settings) -> Any:
    """The default S3 client for these settings (the emulator's endpoint in the local stack)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        region_name=settings.region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


class CodeBundles:
    """The code bucket, with the S3 client injected."""

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    def uri(self, sha256: str) -> str:
        """The s3:// URI of a bundle."""
        return f"s3://{self.bucket}/{bundle_key(sha256)}"

    def exists(self, sha256: str) -> bool:
        """Whether the bundle was uploaded already (uploads are skipped when it was)."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=bundle_key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def upload(self, sha256: str, size: int) -> CodeUpload:
        """Where to PUT a bundle; no URL when the same content is stored already."""
        if self.exists(sha256):
            return CodeUpload(uri=self.uri(sha256), exists=True)
        url = self.client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": bundle_key(sha256), "ContentLength": size},
            ExpiresIn=URL_SECONDS,
        )
        return CodeUpload(uri=self.uri(sha256), exists=False, upload_url=url)

    def download(self, sha256: str) -> CodeDownload:
        """A URL to GET a stored bundle."""
        if not self.exists(sha256):
            raise NotFoundError(f"no code bundle {sha256}", code="not_found")
        url = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": bundle_key(sha256)},
            ExpiresIn=URL_SECONDS,
        )
        return CodeDownload(uri=self.uri(sha256), download_url=url)
