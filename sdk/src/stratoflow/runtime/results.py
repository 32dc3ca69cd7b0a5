"""Result persistence: return values are written to a folder or S3 and passed by reference.

A state never carries a value, only a `ResultRef` (`file://...` or `s3://...`). Values are
pickled; they are only ever read back by the engine that wrote them or a later run of the same
flows, never from an untrusted source. S3 needs botocore (the `[aws]` extra), imported lazily.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit
from uuid import uuid4

from stratoflow.schemas import ResultRef


class ResultStore(Protocol):
    """Where persisted results go."""

    def write(self, value: Any) -> ResultRef:
        """Persist `value` and return a reference to it."""
        ...

    def read(self, ref: ResultRef) -> Any:
        """Load the value behind a reference."""
        ...


class LocalResultStore:
    """Results as pickle files in a local folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, value: Any) -> ResultRef:
        """Pickle `value` to a new file in the folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = pickle.dumps(value)
        path = self.folder / f"{uuid4()}.pickle"
        path.write_bytes(data)
        return ResultRef(uri=path.resolve().as_uri(), serializer="pickle", size=len(data))

    def read(self, ref: ResultRef) -> Any:
        """Unpickle the file a `file://` reference names."""
        path = Path(unquote(urlsplit(ref.uri).path))
        # Only files this engine wrote under the user's own results folder are read.
        return pickle.loads(path.read_bytes())  # noqa: S301


class S3ResultStore:
    """Results as pickle objects under `s3://bucket/prefix/`.

    Args:
        bucket: the bucket.
        prefix: the key prefix (no leading slash).
        client: a boto3/botocore S3 client; built lazily from the default session if None.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client

    @property
    def client(self) -> Any:
        """The S3 client, built on first use."""
        if self._client is None:
            from botocore.session import get_session

            self._client = get_session().create_client("s3")
        return self._client

    def write(self, value: Any) -> ResultRef:
        """Pickle `value` to a new object."""
        data = pickle.dumps(value)
        key = "/".join(part for part in (self.prefix, f"{uuid4()}.pickle") if part)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        return ResultRef(uri=f"s3://{self.bucket}/{key}", serializer="pickle", size=len(data))

    def read(self, ref: ResultRef) -> Any:
        """Unpickle the object an `s3://` reference names."""
        parts = urlsplit(ref.uri)
        body = self.client.get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))["Body"]
        # Only objects this engine wrote to the configured results bucket are read.
        return pickle.loads(body.read())  # noqa: S301


def result_store_for(uri: str, s3_client: Any = None) -> ResultStore:
    """The store for a results location: `s3://bucket/prefix`, `file://...` or a folder path."""
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        return S3ResultStore(parts.netloc, parts.path, s3_client)
    if parts.scheme == "file":
        return LocalResultStore(Path(unquote(parts.path)))
    return LocalResultStore(Path(uri).expanduser())


def read_result(ref: ResultRef, default: ResultStore, s3_client: Any = None) -> Any:
    """Load a referenced value, whichever store wrote it."""
    if ref.uri.startswith("s3://"):
        store = default if isinstance(default, S3ResultStore) else S3ResultStore("", "", s3_client)
        return store.read(ref)
    return LocalResultStore(Path()).read(ref)
