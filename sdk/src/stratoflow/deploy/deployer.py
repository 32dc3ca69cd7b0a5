"""Deploy a flow: register it, store its code, create or update its deployment.

Decide first, then act: the CLI builds a `DeploySpec` (frozen, validated before anything is
written), and `deploy` makes the calls in order. Code goes up as a content-addressed bundle
through a presigned URL (skipped when the API already holds the same bytes), or is recorded as
a container image that has it inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx

from stratoflow.client import StratoflowClient
from stratoflow.deploy.bundle import BundleError, PackedBundle, pack_project
from stratoflow.schemas import (
    CodeBundle,
    CodeImage,
    CodeSource,
    CodeUploadRequest,
    Deployment,
    DeploymentCreate,
    FlowCreate,
)

UPLOAD_TIMEOUT_SECONDS = 300.0
PENDING_FLOW_ID = UUID(int=0)
"""Stands in for the flow id in a spec's deployment until `deploy` has registered the flow."""


@dataclass(frozen=True)
class DeploySpec:
    """What to deploy: a flow by name, its project folder, the deployment and where code lives.

    `deployment` carries every setting of the deployment but the flow id (`PENDING_FLOW_ID`)
    and the code source, which `deploy` fills in.
    """

    flow_name: str
    root: Path
    deployment: DeploymentCreate
    image: str | None = None


@dataclass(frozen=True)
class DeployResult:
    """What `deploy` did: the deployment as stored, the bundle (if any) and whether it went up."""

    deployment: Deployment
    bundle: PackedBundle | None
    uploaded: bool


def deploy(
    client: StratoflowClient, spec: DeploySpec, http: httpx.Client | None = None
) -> DeployResult:
    """Register the flow, store the code and create or update the deployment.

    Args:
        client: the API client.
        spec: what to deploy.
        http: the HTTP client for the presigned upload (a short-lived default when None).

    Raises:
        BundleError: packing or uploading the code failed.
        StratoflowClientError: the API refused a call or could not be reached.
    """
    flow = client.create_flow(FlowCreate(name=spec.flow_name))
    bundle: PackedBundle | None = None
    uploaded = False
    code: CodeSource
    if spec.image:
        code = CodeImage(image=spec.image)
    else:
        bundle = pack_project(spec.root)
        code, uploaded = upload_bundle(client, bundle, http)
    body = spec.deployment.model_copy(update={"flow_id": flow.id, "code": code})
    return DeployResult(client.create_deployment(body), bundle, uploaded)


def upload_bundle(
    client: StratoflowClient, bundle: PackedBundle, http: httpx.Client | None = None
) -> tuple[CodeBundle, bool]:
    """Store a bundle unless the API holds it already; returns its code source and whether
    it was uploaded.

    Raises:
        BundleError: the upload to the presigned URL failed.
    """
    request = CodeUploadRequest(sha256=bundle.sha256, size=len(bundle.data))
    answer = client.create_code_upload(request)
    code = CodeBundle(uri=answer.uri, sha256=bundle.sha256)
    if answer.exists or answer.upload_url is None:
        return code, False
    try:
        if http is None:
            with httpx.Client(timeout=UPLOAD_TIMEOUT_SECONDS) as own:
                _put(own, answer.upload_url, bundle.data)
        else:
            _put(http, answer.upload_url, bundle.data)
    except httpx.HTTPError as exc:
        raise BundleError(f"uploading the code bundle failed: {exc}") from exc
    return code, True


def _put(http: httpx.Client, url: str, data: bytes) -> None:
    # A presigned URL carries its own signature: the API key must not go to the bucket.
    http.put(url, content=data).raise_for_status()
