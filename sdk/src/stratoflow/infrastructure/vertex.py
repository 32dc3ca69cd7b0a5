"""The Vertex AI CustomJob that runs one flow run, in the REST API's JSON (camelCase).

One worker pool of one replica running `stratoflow execute <id>`. Vertex has no secret
injection into a CustomJob's environment, so the API key travels as a reference only:
`STRATOFLOW_API_KEY_SECRET` names a Secret Manager version, which `stratoflow execute` reads with
the job's service account. The run id is on the job as a label, to find it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratoflow.infrastructure.environment import execute_command
from stratoflow.infrastructure.settings import VertexSettings
from stratoflow.schemas import FlowRun

FLOW_RUN_LABEL = "stratoflow-flow-run-id"
DEPLOYMENT_LABEL = "stratoflow-deployment-id"


def custom_job(
    settings: VertexSettings, run: FlowRun, image: str, environment: Mapping[str, str]
) -> dict[str, Any]:
    """The CustomJob body (`POST .../locations/{region}/customJobs`) that runs `run`."""
    job_spec: dict[str, Any] = {
        "workerPoolSpecs": [_worker_pool(settings, run, image, environment)],
        "scheduling": {"timeout": f"{settings.timeout_seconds}s"},
    }
    if settings.service_account:
        job_spec["serviceAccount"] = settings.service_account
    if settings.network:
        job_spec["network"] = settings.network
    labels = {**settings.labels, FLOW_RUN_LABEL: str(run.id)}  # ours last: cannot be hidden
    if run.deployment_id is not None:
        labels[DEPLOYMENT_LABEL] = str(run.deployment_id)
    return {"displayName": f"stratoflow-{run.id}", "jobSpec": job_spec, "labels": labels}


def _worker_pool(
    settings: VertexSettings, run: FlowRun, image: str, environment: Mapping[str, str]
) -> dict[str, Any]:
    env = [{"name": k, "value": v} for k, v in environment.items()]
    if settings.api_key_secret:
        env.append({"name": "STRATOFLOW_API_KEY_SECRET", "value": settings.api_key_secret})
    machine: dict[str, Any] = {"machineType": settings.machine_type}
    if settings.accelerator_type:
        machine["acceleratorType"] = settings.accelerator_type
        machine["acceleratorCount"] = settings.accelerator_count
    return {
        "machineSpec": machine,
        "replicaCount": 1,
        "diskSpec": {
            "bootDiskType": settings.boot_disk_type,
            "bootDiskSizeGb": settings.boot_disk_size_gb,
        },
        "containerSpec": {"imageUri": image, "command": execute_command(run.id), "env": env},
    }
