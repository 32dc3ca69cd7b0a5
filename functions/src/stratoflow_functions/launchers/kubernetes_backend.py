"""The Kubernetes `JobBackend`: a `batch/v1` Job per flow run, over the API's REST interface.

The launcher Lambda cannot carry the `kubernetes` client (the bundle stays small), so this
speaks the wire API with httpx: create the Job (409 AlreadyExists = launched), read its
conditions and its Pods to diagnose a failure, delete it with foreground propagation. The
infrastructure id is `<namespace>/<job name>`. The connection comes from a kubeconfig
(`launchers/kubeconfig.py`) read once per cold start.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx

from stratoflow.infrastructure.kubernetes_status import job_outcome
from stratoflow_functions.config import Settings
from stratoflow_functions.launchers.backend_builds import secret_of, secrets_client
from stratoflow_functions.launchers.backend_errors import JobBackendError
from stratoflow_functions.launchers.backends import JobStatus
from stratoflow_functions.launchers.kubeconfig import KubeConnection, parse_kubeconfig

_JOBS = "/apis/batch/v1/namespaces/{namespace}/jobs"
_PODS = "/api/v1/namespaces/{namespace}/pods"
_FOREGROUND = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}


class KubernetesBackend:
    """Starts, watches and stops flow-run Jobs on one cluster.

    Args:
        http: A client bound to the API server with its credentials (`KubeConnection.client`).
        namespace: Where Jobs go when their manifest names no namespace.
    """

    def __init__(self, http: httpx.Client, *, namespace: str = "default") -> None:
        self._http = http
        self._namespace = namespace

    @classmethod
    def from_connection(cls, connection: KubeConnection) -> KubernetesBackend:
        """A backend on the cluster and namespace `connection` names."""
        return cls(connection.client(), namespace=connection.namespace)

    @classmethod
    def from_secret(cls, secrets: Any, secret_id: str) -> KubernetesBackend:
        """A backend from the JSON kubeconfig in a Secrets Manager secret (read once: build one
        backend per cold start).

        Args:
            secrets: A boto3 Secrets Manager client.
            secret_id: The secret's ARN (`Settings.kubernetes_kubeconfig_secret`).
        """
        text = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
        return cls.from_connection(parse_kubeconfig(text))

    def launch(self, spec: dict[str, Any]) -> str:
        """Create the Job `spec` (a `batch/v1` Job manifest); an existing one is launched.

        Returns:
            `<namespace>/<name>`.

        Raises:
            JobBackendError: The API refused the Job (forbidden, invalid, ...).
        """
        metadata = spec.get("metadata") or {}
        name = metadata.get("name")
        if not name:
            raise JobBackendError("the Job manifest has no metadata.name")
        namespace = metadata.get("namespace") or self._namespace
        response = self._send("POST", _JOBS.format(namespace=namespace), json=spec)
        if response.status_code == 409 and _reason(response) == "AlreadyExists":
            return f"{namespace}/{name}"
        _raise_for(response, f"creating Job {namespace}/{name}")
        return f"{namespace}/{name}"

    def status(self, infrastructure_id: str) -> JobStatus:
        """The Job's state from its conditions, and the diagnosis of its Pods when it failed."""
        namespace, name = self._split(infrastructure_id)
        response = self._send("GET", f"{_JOBS.format(namespace=namespace)}/{name}")
        if response.status_code == 404:
            return JobStatus(True, False, f"the Job disappeared ({namespace}/{name} not found)")
        _raise_for(response, f"reading Job {namespace}/{name}")
        job = response.json()
        return JobStatus.of(job_outcome(job, self._pods(namespace, job)))

    def stop(self, infrastructure_id: str) -> None:
        """Delete the Job and its Pods (foreground propagation); a missing Job is stopped."""
        namespace, name = self._split(infrastructure_id)
        url = f"{_JOBS.format(namespace=namespace)}/{name}"
        response = self._send("DELETE", url, json=_FOREGROUND)
        if response.status_code != 404:
            _raise_for(response, f"deleting Job {namespace}/{name}")

    def _pods(self, namespace: str, job: dict[str, Any]) -> list[dict[str, Any]]:
        response = self._send(
            "GET", _PODS.format(namespace=namespace), params={"labelSelector": _pod_selector(job)}
        )
        _raise_for(response, f"listing the Pods of Job {namespace}/{job['metadata']['name']}")
        return list(response.json().get("items") or [])

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise JobBackendError(
                f"cannot reach the Kubernetes API at {self._http.base_url}: {exc}"
            ) from exc

    def _split(self, infrastructure_id: str) -> tuple[str, str]:
        namespace, _, name = infrastructure_id.rpartition("/")
        return namespace or self._namespace, name


def _pod_selector(job: dict[str, Any]) -> str:
    """The Job's own Pod selector (its controller-uid: never a namesake's Pods), else its
    `job-name` label."""
    labels = ((job.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if labels:
        return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    return f"job-name={job['metadata']['name']}"


def _reason(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("reason") if isinstance(body, dict) else None


def _raise_for(response: httpx.Response, doing: str) -> None:
    if response.is_success:
        return
    try:
        message = response.json().get("message") or response.text
    except ValueError:
        message = response.text
    hint = ""
    if response.status_code in (401, 403):
        hint = " (check the kubeconfig's credentials and the launcher's RBAC Role)"
    raise JobBackendError(f"Kubernetes API {response.status_code} {doing}: {message[:500]}{hint}")


def build(settings: Settings, infra_settings: Any) -> KubernetesBackend:
    """The stack's backend (`backends.backend_for`): its kubeconfig read once per cold start.

    Raises:
        BackendConfigError: STRATOFLOW_KUBERNETES_KUBECONFIG_SECRET is not set, or the
            kubeconfig is unusable.
    """
    secret = secret_of(
        settings.kubernetes_kubeconfig_secret, "STRATOFLOW_KUBERNETES_KUBECONFIG_SECRET"
    )
    return _backend(secret, settings.region, settings.aws_endpoint_url)


@cache
def _backend(secret: str, region: str, endpoint_url: str | None) -> KubernetesBackend:
    return KubernetesBackend.from_secret(secrets_client(region, endpoint_url), secret)
