"""`KubernetesAgent`: runs each claimed flow run as a `batch/v1` Job (the `kubernetes` extra).

The Job is the SDK's `job_manifest` (the one the push launcher creates too): the agent's own
settings (`--namespace`, `--image`, ... as a `KubernetesSettings` dict) merged under the
deployment's `infra_overrides`, validated with `settings_for` before the create; a bad
setting crashes that run (LaunchError), never the agent. The Job's name comes from the run, so
a second create of the same run is a 409 `AlreadyExists`, which adopts the existing Job. A
handle polls the Job's conditions and its Pods: the exit code is the flow container's, and a
Pod that can never start (image pull back-off, a container that cannot be created) ends the
run too, with the reason in `failure_detail`. Stopping deletes the Job with foreground
propagation (404 = already gone). A restarted agent finds its Jobs again by the
`stratoflow.io/flow-run-id` label. The connection is in-cluster config (a pod's service
account) or a kubeconfig file.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from uuid import UUID

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError as TransportError

from stratoflow.client.settings import ClientSettings
from stratoflow.infrastructure import (
    DEFAULT_RUNTIME_IMAGE,
    FLOW_RUN_LABEL,
    InfraSettingsError,
    KubernetesSettings,
    image_for,
    job_manifest,
    launch_environment,
)
from stratoflow.infrastructure.kubernetes_status import KILLED, job_outcome
from stratoflow.schemas import ClaimedRun, InfrastructureType
from stratoflow_agents.base import BaseAgent
from stratoflow_agents.config import AgentConfig
from stratoflow_agents.errors import AgentError, LaunchError, job_settings
from stratoflow_agents.handles import RunHandle
from stratoflow_agents.reporting import AgentClient

logger = logging.getLogger("stratoflow.agent")

Json = dict[str, Any]


def connect(kubeconfig: str | None = None, context: str | None = None) -> k8s.ApiClient:
    """An API client: from `kubeconfig` if given, else in-cluster config, else `~/.kube/config`.

    Raises:
        AgentError: no usable configuration.
    """
    try:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            configuration = k8s.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return k8s.ApiClient(configuration)
        api: k8s.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context
        )
        return api
    except (ConfigException, OSError, TypeError) as exc:
        where = kubeconfig or "in-cluster config or ~/.kube/config"
        raise AgentError(f"cannot configure the Kubernetes client from {where}: {exc}") from exc


def merged(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The agent's `defaults` under a deployment's `overrides`: mappings merge key by key
    (a deployment's `env` adds to the agent's), anything else the deployment's wins."""
    result = dict(defaults)
    for key, value in overrides.items():
        base = result.get(key)
        if isinstance(base, Mapping) and isinstance(value, Mapping):
            result[key] = merged(base, value)
        else:
            result[key] = value
    return result


class KubernetesRunHandle(RunHandle):
    """One flow run's Job.

    Args:
        api: the API client.
        namespace: the Job's namespace.
        name: the Job's name.
    """

    def __init__(self, api: k8s.ApiClient, namespace: str, name: str) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self._batch = k8s.BatchV1Api(api)
        self._core = k8s.CoreV1Api(api)
        self._detail: str | None = None
        self._code: int | None = None

    @property
    def infrastructure_id(self) -> str:
        """`<namespace>/<job name>`."""
        return f"{self.namespace}/{self.name}"

    def poll(self) -> int | None:
        """The flow container's exit code once the Job is over (the SDK's `job_outcome`: a Pod
        that can never start ends it too, `KILLED`); a Job that
        disappeared is over (KILLED). An API error is logged and read as "still running"."""
        if self._code is not None:
            return self._code
        try:
            job = self._read("read_namespaced_job", self._batch, self.name, self.namespace)
            if job is None:
                self._detail = f"the Job {self.infrastructure_id} disappeared"
                self._code = KILLED
                return self._code
            selector = _pod_selector(job)
            pods = self._read(
                "list_namespaced_pod", self._core, self.namespace, label_selector=selector
            )
        except (ApiException, TransportError) as exc:
            logger.warning("Job %s: cannot read it: %s", self.infrastructure_id, _brief(exc))
            return None
        outcome = job_outcome(job, list((pods or {}).get("items") or []))
        self._code, self._detail = outcome.exit_code, outcome.reason
        return self._code

    def terminate(self) -> None:
        """Delete the Job and its Pods (foreground propagation: the kubelet sends SIGTERM and
        waits the pod's grace period)."""
        self._delete()

    def kill(self) -> None:
        """Delete the Job again, its Pods with no grace period."""
        self._delete(grace_period_seconds=0)

    def failure_detail(self) -> str | None:
        """Why the Job failed (OOMKilled, ImagePullBackOff, Evicted, DeadlineExceeded, ...)."""
        return self._detail

    def _delete(self, **options: Any) -> None:
        try:
            self._batch.delete_namespaced_job(
                self.name, self.namespace, propagation_policy="Foreground", **options
            )
        except (ApiException, TransportError) as exc:
            if getattr(exc, "status", None) != 404:  # gone already: stopped
                logger.warning("Job %s: cannot delete it: %s", self.infrastructure_id, _brief(exc))

    def _read(self, method: str, api: Any, *args: Any, **kwargs: Any) -> Json | None:
        """The raw JSON of a call (no model round trip: the diagnosis reads camelCase);
        None for a 404."""
        call: Callable[..., Any] = getattr(api, method)
        try:
            response = call(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        data: Json = json.loads(response.data)
        return data


def _pod_selector(job: Json) -> str:
    """The Job's own Pods (its controller-uid: never a namesake's), else its job-name."""
    labels = ((job.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if labels:
        return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    return f"job-name={job['metadata']['name']}"


def _brief(exc: Exception) -> str:
    if not isinstance(exc, ApiException):
        return f"the API is unreachable: {exc}"
    try:
        message = json.loads(exc.body or "{}").get("message")
    except ValueError:
        message = None
    return f"{exc.status} {message or exc.reason}"


class KubernetesAgent(BaseAgent):
    """Runs flow runs as Kubernetes Jobs.

    Args:
        config: how to poll, watch and stop runs.
        client: the Stratoflow API.
        settings: the API settings (its URL goes to the pods; the key only by Secret
            reference, `api_key_secret`).
        api: a Kubernetes API client (see `connect`).
        job_defaults: the agent's `KubernetesSettings` values, under each deployment's.
        **kwargs: clock, sleep, rand, agent_id (see `BaseAgent`).
    """

    infrastructure: ClassVar[InfrastructureType] = InfrastructureType.KUBERNETES

    def __init__(
        self,
        config: AgentConfig,
        client: AgentClient,
        settings: ClientSettings,
        api: k8s.ApiClient,
        *,
        job_defaults: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, client, **kwargs)
        self.settings = settings
        self.api = api
        self.job_defaults = dict(job_defaults or {})
        self._batch = k8s.BatchV1Api(api)

    @property
    def namespace(self) -> str:
        """Where this agent's Jobs go unless a deployment says otherwise."""
        return str(self.job_defaults.get("namespace") or KubernetesSettings().namespace)

    def job_settings(self, claimed: ClaimedRun) -> KubernetesSettings:
        """The run's settings: the agent's defaults under the deployment's overrides.

        Raises:
            LaunchError: they are not valid Kubernetes settings (the message names the field).
        """
        overrides = claimed.deployment.infra_overrides if claimed.deployment else {}
        values = merged(self.job_defaults, overrides)
        return job_settings(self.infrastructure, values, KubernetesSettings)

    def manifest(self, claimed: ClaimedRun) -> Json:
        """The Job that runs `claimed` (the SDK's `job_manifest`).

        Raises:
            LaunchError: bad settings, or no API URL to give the pod.
        """
        settings = self.job_settings(claimed)
        if not self.settings.api_url:
            raise LaunchError("the agent has no API URL to give the Job's pod")
        run = claimed.flow_run
        if claimed.deployment is not None:
            image = image_for(claimed.deployment, settings)
        else:
            image = settings.image or DEFAULT_RUNTIME_IMAGE
        try:
            environment = launch_environment(self.settings.api_url, run.id, settings.env)
        except InfraSettingsError as exc:
            raise LaunchError(str(exc)) from exc
        return job_manifest(settings, run, image, environment)

    def launch(self, claimed: ClaimedRun) -> KubernetesRunHandle:
        """Create the run's Job; one that exists already (409) is this run's: adopted.

        Raises:
            LaunchError: bad settings, or the API refused the Job (forbidden, invalid, ...).
        """
        body: Any = self.manifest(claimed)  # the client sends a dict as it is
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        try:
            self._batch.create_namespaced_job(namespace, body, _preload_content=False)
        except ApiException as exc:
            if exc.status != 409:
                hint = " (check the agent's RBAC Role)" if exc.status in (401, 403) else ""
                raise LaunchError(
                    f"Kubernetes refused Job {namespace}/{name}: {_brief(exc)}{hint}"
                ) from exc
            logger.info("Job %s/%s exists already: adopting it", namespace, name)
        except TransportError as exc:
            raise LaunchError(f"cannot reach the Kubernetes API: {exc}") from exc
        return KubernetesRunHandle(self.api, namespace, name)

    def recover(self) -> dict[UUID, RunHandle]:
        """The Jobs in the agent's namespace labelled with a flow-run id (the loop keeps the
        runs still open); newest resurrection's Job wins when a run has several."""
        try:
            response: Any = self._batch.list_namespaced_job(
                self.namespace, label_selector=FLOW_RUN_LABEL, _preload_content=False
            )
        except (ApiException, TransportError) as exc:
            logger.warning("cannot list Jobs in %s: %s", self.namespace, _brief(exc))
            return {}
        found: dict[UUID, RunHandle] = {}
        jobs = sorted(
            json.loads(response.data).get("items") or [],
            key=lambda job: job["metadata"].get("creationTimestamp") or "",
        )
        for job in jobs:
            metadata = job["metadata"]
            try:
                run_id = UUID((metadata.get("labels") or {})[FLOW_RUN_LABEL])
            except (KeyError, ValueError):
                continue
            if metadata.get("deletionTimestamp"):
                continue
            found[run_id] = KubernetesRunHandle(self.api, self.namespace, metadata["name"])
        return found
