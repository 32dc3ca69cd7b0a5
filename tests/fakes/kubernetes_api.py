"""A fake Kubernetes API server: `batch/v1` Jobs and `core/v1` Pods, as the wire API speaks them.

Served over real HTTP by `tests.fakes.wire.serve`. What it does like the real API server: Job
create (201, the controller's `controller-uid` selector and Pod-template labels added; 409
`AlreadyExists` Status for a taken name), get (404 `NotFound` Status), list by
`labelSelector`, delete with a `propagationPolicy` (recorded; the Job and its Pods go at once,
as foreground deletion ends); Pods listed by `labelSelector`. What it does not: run anything.
A test moves a Job and its Pod through states with the hooks (`run`, `succeed`, `oom_kill`,
`image_pull_backoff`, `evict`, `exceed_deadline`, `unschedulable`, `vanish`). Proven against
the real `kubernetes` client in tests/unit/launchers/test_kubernetes_fake_wire.py.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from typing import Any

from tests.fakes.wire import Json, Reply, WireFake

_NS = r"/namespaces/(?P<namespace>[a-z0-9-]+)"
_NOW = "2026-01-01T00:00:00Z"


def status_object(code: int, reason: str, message: str, **details: str) -> Json:
    """A `v1.Status` as the API server returns for an error."""
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "details": details, "code": code,
    }  # fmt: skip


def matches(selector: str | None, labels: dict[str, str]) -> bool:
    """Whether `labels` satisfy a label selector (`k=v`, `k==v`, `k!=v`, `k`, `!k`, joined
    by commas)."""
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term.strip() not in labels:
            return False
    return True


class FakeKubernetesApi(WireFake):
    """Jobs and Pods in memory, keyed by (namespace, name).

    Args:
        token: The bearer token every request must carry (401 otherwise); None accepts any.
    """

    ROUTES = (
        ("POST", f"/apis/batch/v1{_NS}/jobs", "create_job"),
        ("GET", f"/apis/batch/v1{_NS}/jobs", "list_jobs"),
        ("GET", f"/apis/batch/v1{_NS}/jobs/(?P<name>[^/]+)", "get_job"),
        ("DELETE", f"/apis/batch/v1{_NS}/jobs/(?P<name>[^/]+)", "delete_job"),
        ("GET", f"/api/v1{_NS}/pods", "list_pods"),
    )

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.jobs: dict[tuple[str, str], Json] = {}
        self.pods: dict[tuple[str, str], Json] = {}
        self.deletions: list[tuple[str, str, str | None]] = []
        self._versions = itertools.count(1)

    def authorize(self, headers: dict[str, str]) -> Reply | None:
        if self.token is None or headers.get("authorization") == f"Bearer {self.token}":
            return None
        return 401, status_object(401, "Unauthorized", "Unauthorized")

    # --- the wire API -------------------------------------------------------------------
    def create_job(self, namespace: str, query: dict[str, str], body: Json | None) -> Reply:
        job = copy.deepcopy(body or {})
        name = (job.get("metadata") or {}).get("name")
        if not name:
            return 422, status_object(422, "Invalid", "Job.batch is invalid: metadata.name")
        if (namespace, name) in self.jobs:
            message = f'jobs.batch "{name}" already exists'
            return 409, status_object(409, "AlreadyExists", message, name=name, kind="jobs")
        uid = str(uuid.uuid4())
        job["metadata"].update(
            namespace=namespace, uid=uid, creationTimestamp=_NOW,
            resourceVersion=str(next(self._versions)),
        )  # fmt: skip
        own = {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid}
        job.setdefault("spec", {}).setdefault("selector", {"matchLabels": own})
        template = job["spec"].setdefault("template", {}).setdefault("metadata", {})
        labels = {**own, "job-name": name, "batch.kubernetes.io/job-name": name}
        template["labels"] = {**(template.get("labels") or {}), **labels}
        job["status"] = {}
        self.jobs[(namespace, name)] = job
        return 201, job

    def get_job(self, namespace: str, name: str, query: dict[str, str], body: Json | None) -> Reply:
        job = self.jobs.get((namespace, name))
        if job is None:
            return 404, status_object(404, "NotFound", f'jobs.batch "{name}" not found', name=name)
        return 200, job

    def list_jobs(self, namespace: str, query: dict[str, str], body: Json | None) -> Reply:
        selector = query.get("labelSelector")
        items = [
            job for (ns, _), job in self.jobs.items()
            if ns == namespace and matches(selector, job["metadata"].get("labels") or {})
        ]  # fmt: skip
        return 200, {"kind": "JobList", "apiVersion": "batch/v1", "metadata": {}, "items": items}

    def delete_job(
        self, namespace: str, name: str, query: dict[str, str], body: Json | None
    ) -> Reply:
        policy = (body or {}).get("propagationPolicy") or query.get("propagationPolicy")
        job = self.jobs.pop((namespace, name), None)
        if job is None:
            return 404, status_object(404, "NotFound", f'jobs.batch "{name}" not found', name=name)
        self.deletions.append((namespace, name, policy))
        for key in [k for k, pod in self.pods.items() if self._owned(job, pod)]:
            del self.pods[key]
        job["metadata"]["deletionTimestamp"] = _NOW
        return 200, job

    def list_pods(self, namespace: str, query: dict[str, str], body: Json | None) -> Reply:
        items = [
            pod for (ns, _), pod in self.pods.items()
            if ns == namespace and matches(query.get("labelSelector"), pod["metadata"]["labels"])
        ]  # fmt: skip
        return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}

    # --- test hooks: what the Job controller and the kubelet would do -------------------
    def run(self, namespace: str, name: str) -> Json:
        """Start the Job's Pod: Running, its containers running."""
        return self._pod(namespace, name, "Running", {"running": {"startedAt": _NOW}})

    def succeed(self, namespace: str, name: str) -> None:
        """The Pod's containers exit 0 and the Job completes."""
        ended = {"terminated": {"exitCode": 0, "reason": "Completed"}}
        self._pod(namespace, name, "Succeeded", ended)
        self._condition(namespace, name, "Complete", "", "", succeeded=1)

    def oom_kill(self, namespace: str, name: str) -> None:
        """The container is OOMKilled (exit 137); the Job fails (backoffLimit 0)."""
        self._pod(
            namespace, name, "Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
        )
        self._backoff_limit(namespace, name)

    def exit_with(self, namespace: str, name: str, code: int) -> None:
        """The container exits with `code`; the Job fails."""
        self._pod(namespace, name, "Failed", {"terminated": {"exitCode": code, "reason": "Error"}})
        self._backoff_limit(namespace, name)

    def image_pull_backoff(
        self, namespace: str, name: str, reason: str = "ImagePullBackOff"
    ) -> None:
        """The kubelet cannot pull the image: the Pod stays Pending (the Job does not fail)."""
        message = f'Back-off pulling image "{self._image(namespace, name)}"'
        self._pod(namespace, name, "Pending", {"waiting": {"reason": reason, "message": message}})
        self._set_status(namespace, name, active=1)

    def evict(self, namespace: str, name: str) -> None:
        """The node evicts the Pod (memory pressure); the Job fails."""
        pod = self._pod(
            namespace, name, "Failed", {"terminated": {"exitCode": 137, "reason": "Error"}}
        )
        pod["status"].update(reason="Evicted", message="The node was low on resource: memory.")
        self._backoff_limit(namespace, name)

    def unschedulable(self, namespace: str, name: str) -> None:
        """No node fits the Pod: Pending with PodScheduled False (the Job does not fail)."""
        pod = self._pod(namespace, name, "Pending", None)
        pod["status"]["conditions"] = [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient cpu.",
        }]  # fmt: skip
        self._set_status(namespace, name, active=1)

    def exceed_deadline(self, namespace: str, name: str) -> None:
        """The Job runs past activeDeadlineSeconds: Failed DeadlineExceeded."""
        message = "Job was active longer than specified deadline"
        self._condition(namespace, name, "Failed", "DeadlineExceeded", message, failed=1)

    def vanish(self, namespace: str, name: str) -> None:
        """Someone deletes the Job (and its Pods) behind the launcher's back."""
        job = self.jobs.pop((namespace, name))
        for key in [k for k, pod in self.pods.items() if self._owned(job, pod)]:
            del self.pods[key]

    # --- helpers ------------------------------------------------------------------------
    def _backoff_limit(self, namespace: str, name: str) -> None:
        message = "Job has reached the specified backoff limit"
        self._condition(namespace, name, "Failed", "BackoffLimitExceeded", message, failed=1)

    def _condition(
        self, namespace: str, name: str, kind: str, reason: str, message: str, **counts: int
    ) -> None:
        condition = {
            "type": kind, "status": "True", "reason": reason, "message": message,
            "lastProbeTime": _NOW, "lastTransitionTime": _NOW,
        }  # fmt: skip
        with self.lock:
            status = self.jobs[(namespace, name)]["status"]
            status.setdefault("conditions", []).append(condition)
            status.update(active=0, **counts)

    def _set_status(self, namespace: str, name: str, **values: Any) -> None:
        with self.lock:
            self.jobs[(namespace, name)]["status"].update(startTime=_NOW, **values)

    def _image(self, namespace: str, name: str) -> str:
        spec = self.jobs[(namespace, name)]["spec"]["template"]["spec"]
        return str(spec["containers"][0].get("image"))

    def _owned(self, job: Json, pod: Json) -> bool:
        return matches(
            ",".join(f"{k}={v}" for k, v in job["spec"]["selector"]["matchLabels"].items()),
            pod["metadata"]["labels"],
        )

    def _pod(self, namespace: str, name: str, phase: str, state: Json | None) -> Json:
        """The Job's one Pod (created on first use) in `phase`, its containers in `state`."""
        with self.lock:
            job = self.jobs[(namespace, name)]
            key = (namespace, f"{name}-pod")
            template = job["spec"]["template"]
            pod = self.pods.setdefault(key, {
                "kind": "Pod", "apiVersion": "v1",
                "metadata": {
                    "name": key[1], "namespace": namespace, "uid": str(uuid.uuid4()),
                    "labels": dict(template["metadata"]["labels"]),
                },
                "spec": copy.deepcopy(template["spec"]),
            })  # fmt: skip
            containers = template["spec"].get("containers") or []
            pod["status"] = {"phase": phase, "conditions": []}
            if state is not None:
                pod["status"]["containerStatuses"] = [
                    {"name": c["name"], "image": c.get("image"), "imageID": "", "ready": False,
                     "restartCount": 0, "state": copy.deepcopy(state)}
                    for c in containers
                ]  # fmt: skip
            self._set_status(namespace, name, active=1)
            return pod
