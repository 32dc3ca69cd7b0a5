"""Shared test data of the job-backend tests: a kubeconfig and a Job manifest."""

from __future__ import annotations

import functools
import json
from typing import Any

TOKEN = "sa-token-123"
RUN_ID = "0b6c7a52-3f1e-4d8e-9a41-2b7c1d0e5f66"


def kubeconfig(server: str, *, user: dict[str, Any] | None = None, namespace: str = "flows") -> str:
    """A flattened JSON kubeconfig with one context on `server`."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "launcher",
        "clusters": [{"name": "c1", "cluster": {"server": server}}],
        "users": [{"name": "u1", "user": user if user is not None else {"token": TOKEN}}],
        "contexts": [{"name": "launcher",
                      "context": {"cluster": "c1", "user": "u1", "namespace": namespace}}],
    })  # fmt: skip


def job_manifest(run_id: str = RUN_ID, *, namespace: str | None = None) -> dict[str, Any]:
    """A Job manifest of the shape the builder makes (the parts the API and backend read)."""
    metadata: dict[str, Any] = {
        "name": f"stratoflow-{run_id}", "labels": {"stratoflow.io/flow-run-id": run_id},
    }  # fmt: skip
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
        "spec": {
            "backoffLimit": 0, "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": {"stratoflow.io/flow-run-id": run_id}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "flow", "image": "registry.example/flows:1",
                                    "command": ["stratoflow", "execute", run_id]}],
                },
            },
        },
    }  # fmt: skip


PROJECT, REGION = "proj-1", "europe-west4"
SERVICE_ACCOUNT = "launcher@proj-1.iam.gserviceaccount.com"


def service_account_key(token_uri: str) -> tuple[dict[str, Any], str]:
    """A service-account key file (JSON) whose tokens come from `token_uri`, and the public
    key (PEM) that verifies its signatures."""
    private, public = _rsa_pair()
    info = {
        "type": "service_account", "project_id": PROJECT, "private_key_id": "key-1",
        "private_key": private, "client_email": SERVICE_ACCOUNT, "client_id": "1",
        "token_uri": token_uri,
    }  # fmt: skip
    return info, public


@functools.cache
def _rsa_pair() -> tuple[str, str]:
    """One RSA key pair (PEM) for the whole session: generating one costs about a second."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def custom_job(run_id: str = RUN_ID) -> dict[str, Any]:
    """A CustomJob (REST JSON) of the shape the builder makes."""
    return {
        "displayName": f"stratoflow-{run_id}",
        "labels": {"stratoflow-flow-run-id": run_id},
        "jobSpec": {
            "workerPoolSpecs": [{
                "machineSpec": {"machineType": "n1-standard-4"}, "replicaCount": "1",
                "containerSpec": {"imageUri": "europe-docker.pkg.dev/p/r/flows:1",
                                  "command": ["stratoflow", "execute", run_id]},
            }],
            "serviceAccount": "runner@proj-1.iam.gserviceaccount.com",
        },
    }  # fmt: skip
