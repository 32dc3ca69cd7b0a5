"""Find a deployment's code and import its flow: `path/to/file.py:function`.

The code is already in the working directory (a container image), or a bundle: a local folder,
a zip given as a `file://` URI or a path, or an `s3://` zip uploaded by `stratoflow deploy`
(fetched through a short-lived URL from `GET /code-bundles/{sha256}`, so a run needs no AWS
credentials of its own). A zip is checked against its sha256 and unpacked into a scratch folder,
refusing entries that would land outside it; an entrypoint that resolves outside the code folder
is refused too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import httpx

from stratoflow.client.errors import StratoflowClientError
from stratoflow.deploy.bundle import BundleError, unpack_bundle
from stratoflow.exceptions import StratoflowError
from stratoflow.flows import Flow
from stratoflow.schemas import CodeBundle, CodeDownload, CodeSource
from stratoflow.schemas.flows import check_entrypoint

DOWNLOAD_TIMEOUT_SECONDS = 120.0


class CodeLoadError(StratoflowError):
    """The deployment's code or entrypoint could not be found or imported."""


class BundleSource(Protocol):
    """What can say where a stored bundle is: the API client (`GET /code-bundles/{sha256}`)."""

    def read_code_bundle(self, sha256: str) -> CodeDownload:
        """A short-lived download URL for the bundle with this content hash."""
        ...


def materialize_code(
    code: CodeSource | None,
    workdir: Path,
    scratch: Path,
    source: BundleSource | None = None,
    http: httpx.Client | None = None,
) -> Path:
    """The folder holding the deployment's code.

    Args:
        code: the deployment's code source (None or an image: the code is in `workdir`).
        workdir: the current working directory.
        scratch: an empty folder to unpack a zip bundle into.
        source: where to ask for an `s3://` bundle's download URL (the API client).
        http: the HTTP client to download with (a short-lived default when None).

    Raises:
        CodeLoadError: the bundle is missing, corrupt, unsafe, or stored somewhere not supported.
    """
    if not isinstance(code, CodeBundle):
        return workdir
    parts = urlsplit(code.uri)
    if parts.scheme == "s3":
        data = _download(code, source, http)
    elif parts.scheme in ("", "file"):
        path = Path(unquote(parts.path) if parts.scheme == "file" else code.uri)
        if path.is_dir():
            return path
        if not path.is_file():
            raise CodeLoadError(f"code bundle {code.uri} not found")
        data = path.read_bytes()
    else:
        raise CodeLoadError(f"code bundle {code.uri}: only s3://, file:// and local bundles work")
    try:
        unpack_bundle(data, code.sha256, scratch)
    except BundleError as exc:
        raise CodeLoadError(f"code bundle {code.uri}: {exc}") from exc
    return scratch


def _download(code: CodeBundle, source: BundleSource | None, http: httpx.Client | None) -> bytes:
    if source is None:
        raise CodeLoadError(f"code bundle {code.uri}: an API client is needed to fetch it")
    try:
        url = source.read_code_bundle(code.sha256).download_url
        # A presigned URL carries its own signature: no API credentials go to the bucket.
        if http is None:
            with httpx.Client(timeout=DOWNLOAD_TIMEOUT_SECONDS) as client:
                response = client.get(url)
        else:
            response = http.get(url)
        response.raise_for_status()
    except (StratoflowClientError, httpx.HTTPError) as exc:
        raise CodeLoadError(f"code bundle {code.uri}: download failed: {exc}") from exc
    return response.content


def load_flow(entrypoint: str, root: Path) -> Flow[..., Any]:
    """Import `path/to/file.py:function` (relative to `root`) and return the flow.

    Raises:
        CodeLoadError: the file or function does not exist, lies outside `root` (through `..`
            or a symlink), fails to import, or is not a flow.
    """
    try:
        check_entrypoint(entrypoint)  # again here: a stored or hand-made one may predate the API's
    except ValueError as exc:
        raise CodeLoadError(f"entrypoint {entrypoint!r}: {exc}") from exc
    file_part, _, attribute = entrypoint.rpartition(":")
    path = (root / file_part).resolve()
    if not file_part or not attribute or not path.is_file():
        raise CodeLoadError(f"entrypoint {entrypoint!r}: no file {file_part!r} under {root}")
    if not path.is_relative_to(root.resolve()):
        # `..` or a symlink leading out: only the deployment's own code is ever imported.
        raise CodeLoadError(
            f"entrypoint {entrypoint!r}: {file_part!r} resolves to {path}, outside the code "
            f"folder {root}"
        )
    module = _import_file(path, root)
    flow = getattr(module, attribute, None)
    if not isinstance(flow, Flow):
        raise CodeLoadError(f"entrypoint {entrypoint!r}: {attribute!r} is not a @flow")
    return flow


def _import_file(path: Path, root: Path) -> Any:
    name = f"stratoflow_entrypoint_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CodeLoadError(f"cannot import {path}")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # so the flow's own modules import as they do locally
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise CodeLoadError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module
