"""Shared test data of the job-backend tests: a kubeconfig and a Job manifest."""

from __future__ import annotations

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
