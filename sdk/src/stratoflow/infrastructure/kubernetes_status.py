"""Pure: a `batch/v1` Job and its Pods (the API's camelCase JSON) to a `JobOutcome`.

A Job ends when it has a true `Complete` or `Failed` (or `FailureTarget`) condition. It is also
over, although Kubernetes would keep it, when its Pod cannot ever start: an image the kubelet
backs off pulling (`ImagePullBackOff`, `InvalidImageName`, `ErrImageNeverPull`) or a container
that cannot be created (`CreateContainerConfigError`, say a missing API-key Secret); with
`backoffLimit: 0` nothing else would end it before its deadline. A first `ErrImagePull` is not
(the kubelet retries a registry's hiccup), nor is a Pod pending unscheduled: a cluster
autoscaler may be adding a node; it is named in the reason only when the Job failed. Every
reason names the Kubernetes reason it comes from (OOMKilled, Evicted, DeadlineExceeded, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from stratoflow.infrastructure.kubernetes import CONTAINER_NAME
from stratoflow.infrastructure.outcome import RUNNING, JobOutcome

Json = dict[str, Any]

STUCK = frozenset(
    {"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"}
)
"""Waiting reasons of a container that will not start without a change to the spec."""
IMAGE_PULL = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}
)
"""Waiting reasons of a container whose image cannot be pulled (`ErrImagePull` retries)."""
KILLED = 137
"""The exit code of a Job that failed with no flow-container exit code (deadline, an eviction
before the container ran, a Pod that can never start): SIGKILL's, as Kubernetes reports."""
_JOB_REASONS = {
    "DeadlineExceeded": "timed out (DeadlineExceeded): the Job ran longer than its "
    "activeDeadlineSeconds",
    "BackoffLimitExceeded": "the Job's pod failed (BackoffLimitExceeded)",
}


def job_outcome(job: Json, pods: list[Json]) -> JobOutcome:
    """What `job` is doing, given the Pods it owns.

    The exit code of a Job that is over is the flow container's (0 for a `Complete` Job), else
    `KILLED`; the reason is the Pods' diagnosis (`pod_diagnosis`), then the Job's own.
    """
    conditions = {
        c.get("type"): c for c in (job.get("status") or {}).get("conditions") or []
        if c.get("status") == "True"
    }  # fmt: skip
    if "Complete" in conditions:
        return JobOutcome(over=True, exit_code=0)
    code = flow_exit_code(pods) or KILLED
    failed = conditions.get("Failed") or conditions.get("FailureTarget")
    if failed is not None:
        return JobOutcome(True, code, _failed_reason(failed, pods))
    stuck = _first(pods, _stuck)
    if stuck is not None:
        return JobOutcome(True, code, stuck)
    return RUNNING


def pod_diagnosis(pods: list[Json]) -> str | None:
    """Why the Pods failed, most telling first: eviction, OOM, image pull, a container that
    could not be created, an exit code, never scheduled."""
    for check in (_evicted, _oom, _image_pull, _stuck, _exit_code, _unschedulable):
        found = _first(pods, check)
        if found is not None:
            return found
    return None


def flow_exit_code(pods: list[Json]) -> int | None:
    """The flow container's exit code, once one of the Pods' has ended."""
    for pod in pods:
        for container in _containers(pod):
            ended = _state(container, "terminated") or {}
            if container.get("name") == CONTAINER_NAME and ended.get("exitCode") is not None:
                return int(ended["exitCode"])
    return None


def _failed_reason(condition: Json, pods: list[Json]) -> str:
    reason = condition.get("reason") or "Failed"
    message = condition.get("message") or "no message"
    job = _JOB_REASONS.get(reason) or f"the Job failed ({reason}): {message}"
    pod = pod_diagnosis(pods)
    return f"{pod}; {job}" if pod else job


def _first(pods: list[Json], check: Callable[[Json], str | None]) -> str | None:
    for pod in pods:
        found = check(pod)
        if found is not None:
            return found
    return None


def _containers(pod: Json) -> Iterable[Json]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def _state(container: Json, key: str) -> Json | None:
    state: Json | None = (container.get("state") or {}).get(key)
    return state


def _evicted(pod: Json) -> str | None:
    status = pod.get("status") or {}
    if status.get("reason") != "Evicted":
        return None
    return f"the pod was evicted (Evicted): {status.get('message') or 'no message'}"


def _oom(pod: Json) -> str | None:
    for container in _containers(pod):
        previous = (container.get("lastState") or {}).get("terminated")
        ended = _state(container, "terminated") or previous or {}
        if ended.get("reason") == "OOMKilled":
            return (
                f"out of memory: container {container.get('name')} was OOMKilled "
                f"(exit code {ended.get('exitCode', KILLED)}); raise its memory limit"
            )
        if ended.get("exitCode") == KILLED:
            return (
                f"container {container.get('name')} was killed (exit code 137, SIGKILL: "
                "usually out of memory); raise its memory limit"
            )
    return None


def _image_pull(pod: Json) -> str | None:
    for container in _containers(pod):
        waiting = _state(container, "waiting") or {}
        if waiting.get("reason") in IMAGE_PULL:
            return (
                f"image pull failed for container {container.get('name')} "
                f"({container.get('image')}): {waiting['reason']}: "
                f"{waiting.get('message') or 'no message'}"
            )
    return None


def _stuck(pod: Json) -> str | None:
    for container in _containers(pod):
        waiting = _state(container, "waiting") or {}
        if waiting.get("reason") in STUCK:
            kind = "image pull failed" if waiting["reason"] in IMAGE_PULL else "cannot start"
            return (
                f"{kind} for container {container.get('name')} ({container.get('image')}): "
                f"{waiting['reason']}: {waiting.get('message') or 'no message'}"
            )
    return None


def _exit_code(pod: Json) -> str | None:
    for container in _containers(pod):
        ended = _state(container, "terminated") or {}
        code = ended.get("exitCode")
        if code:
            return f"container {container.get('name')} exited with code {code}"
    return None


def _unschedulable(pod: Json) -> str | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            message = condition.get("message") or "no message"
            return f"the pod was never scheduled (Unschedulable): {message}"
    return None
