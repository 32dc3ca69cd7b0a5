"""The Kubernetes `batch/v1` Job that runs one flow run, as a plain manifest dict.

One pod, never retried by Kubernetes (`backoffLimit: 0`: retries are the flow's own policy,
decided by the control plane), removed `ttlSecondsAfterFinished` after it ends. The Job's name
comes from the run id, so a second create of the same run is a 409 rather than a second pod.
The API key comes from a Secret through `secretKeyRef`; it is never written in the manifest.
The container's `STRATOFLOW_INFRASTRUCTURE_ID` is `<namespace>/<name>`, what the launcher's
`launch` returns and the agent's handle names, so the engine's heartbeats repeat that id.
Only set fields are written, in the API's camelCase, so the dict round-trips through the
`kubernetes` client's models unchanged (a test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratoflow.infrastructure.environment import INFRASTRUCTURE_ID_ENV, execute_command
from stratoflow.infrastructure.settings import KubernetesSettings, Toleration
from stratoflow.schemas import FlowRun

FLOW_RUN_LABEL = "stratoflow.io/flow-run-id"
DEPLOYMENT_LABEL = "stratoflow.io/deployment-id"
CONTAINER_NAME = "flow"


def job_name(run: FlowRun) -> str:
    """The Job's name: `stratoflow-<run id>`, then `-r<N>` after N resurrections (at most 51
    characters, a DNS label): a rescheduled run gets a Job of its own, never the old one."""
    suffix = f"-r{run.resurrections}" if run.resurrections else ""
    return f"stratoflow-{run.id}{suffix}"


def job_id(settings: KubernetesSettings, run: FlowRun) -> str:
    """The Job's infrastructure id: `<namespace>/<name>`."""
    return f"{settings.namespace}/{job_name(run)}"


def job_manifest(
    settings: KubernetesSettings, run: FlowRun, image: str, environment: Mapping[str, str]
) -> dict[str, Any]:
    """The Job that runs `run` in `image` with `environment` (see `launch_environment`), plus
    `STRATOFLOW_INFRASTRUCTURE_ID` (`job_id`)."""
    environment = {**environment, INFRASTRUCTURE_ID_ENV: job_id(settings, run)}
    labels = _labels(settings, run)
    metadata: dict[str, Any] = {
        "name": job_name(run),
        "namespace": settings.namespace,
        "labels": labels,
    }
    if settings.annotations:
        metadata["annotations"] = dict(settings.annotations)
    spec: dict[str, Any] = {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
        "template": {
            "metadata": {"labels": labels},
            "spec": _pod_spec(settings, run, image, environment),
        },
    }
    if settings.active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = settings.active_deadline_seconds
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def _labels(settings: KubernetesSettings, run: FlowRun) -> dict[str, str]:
    labels = {**settings.labels, "app.kubernetes.io/managed-by": "stratoflow"}
    labels[FLOW_RUN_LABEL] = str(run.id)  # ours last: a user label cannot hide it
    if run.deployment_id is not None:
        labels[DEPLOYMENT_LABEL] = str(run.deployment_id)
    return labels


def _pod_spec(
    settings: KubernetesSettings, run: FlowRun, image: str, environment: Mapping[str, str]
) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [_container(settings, run, image, environment)],
    }
    if settings.service_account_name:
        pod["serviceAccountName"] = settings.service_account_name
    if settings.node_selector:
        pod["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        pod["tolerations"] = [_toleration(t) for t in settings.tolerations]
    if settings.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in settings.image_pull_secrets]
    return pod


def _container(
    settings: KubernetesSettings, run: FlowRun, image: str, environment: Mapping[str, str]
) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in environment.items()]
    if settings.api_key_secret is not None:
        ref = {"name": settings.api_key_secret.name, "key": settings.api_key_secret.key}
        env.append({"name": "STRATOFLOW_API_KEY", "valueFrom": {"secretKeyRef": ref}})
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "command": execute_command(run.id),
        "env": env,
    }
    if settings.image_pull_policy:
        container["imagePullPolicy"] = settings.image_pull_policy
    resources = {
        kind: dict(values)
        for kind, values in (
            ("requests", settings.resources.requests),
            ("limits", settings.resources.limits),
        )
        if values
    }
    if resources:
        container["resources"] = resources
    return container


def _toleration(toleration: Toleration) -> dict[str, Any]:
    fields = {
        "key": toleration.key,
        "operator": toleration.operator,
        "value": toleration.value,
        "effect": toleration.effect,
        "tolerationSeconds": toleration.toleration_seconds,
    }
    return {name: value for name, value in fields.items() if value is not None}
