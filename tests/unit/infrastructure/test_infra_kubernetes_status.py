"""The Kubernetes diagnosis both the launcher and the agent read a Job by: each reason a Job and
its Pods (API JSON, camelCase) can give, with the exit code and the words it is reported in."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.infrastructure.kubernetes_status import KILLED, job_outcome
from stratoflow.infrastructure.outcome import RUNNING, JobOutcome

Json = dict[str, Any]
IMAGE = "registry.example/flows:1"
BACKOFF = "the Job's pod failed (BackoffLimitExceeded)"
DEADLINE = "timed out (DeadlineExceeded): the Job ran longer than its activeDeadlineSeconds"
UNSCHEDULABLE = "0/3 nodes are available: 3 Insufficient cpu."


def job(*conditions: tuple[str, str], message: str = "") -> Json:
    """A Job with true conditions (`(type, reason)`), and a false one that must be ignored."""
    found = [{"type": t, "status": "True", "reason": r, "message": message} for t, r in conditions]
    return {"status": {"conditions": [*found, {"type": "Complete", "status": "False"}]}}


def pod(*containers: Json, init: tuple[Json, ...] = (), **status: Any) -> Json:
    return {
        "status": {
            "phase": "Pending",
            "containerStatuses": list(containers),
            "initContainerStatuses": list(init),
            **status,
        }
    }


def waiting(reason: str, message: str = "", name: str = "flow") -> Json:
    return {
        "name": name,
        "image": IMAGE,
        "state": {"waiting": {"reason": reason, "message": message}},
    }


def ended(code: int, reason: str = "Error", name: str = "flow", last: bool = False) -> Json:
    terminated = {"terminated": {"exitCode": code, "reason": reason}}
    if last:
        return {"name": name, "image": IMAGE, "state": {"running": {}}, "lastState": terminated}
    return {"name": name, "image": IMAGE, "state": terminated}


UNSCHEDULED = {
    "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": UNSCHEDULABLE},
    ]
}  # fmt: skip
FAILED = ("Failed", "BackoffLimitExceeded")
EXCEEDED = ("Failed", "DeadlineExceeded")

CASES: list[tuple[str, Json, list[Json], JobOutcome]] = [
    ("running", job(), [pod({"name": "flow", "state": {"running": {}}})], RUNNING),
    ("pending unscheduled: an autoscaler may add a node", job(), [pod(**UNSCHEDULED)], RUNNING),
    ("a first ErrImagePull is retried", job(), [pod(waiting("ErrImagePull", "429"))], RUNNING),
    ("complete", job(("Complete", "")), [pod(ended(0, "Completed"))], JobOutcome(True, 0)),
    (
        "ImagePullBackOff ends a Job that never fails",
        job(),
        [pod(waiting("ImagePullBackOff", 'Back-off pulling image "registry.example/flows:1"'))],
        JobOutcome(
            True, KILLED,
            f"image pull failed for container flow ({IMAGE}): ImagePullBackOff: "
            'Back-off pulling image "registry.example/flows:1"',
        ),
    ),
    (
        "InvalidImageName",
        job(),
        [pod(waiting("InvalidImageName"))],
        JobOutcome(
            True, KILLED,
            f"image pull failed for container flow ({IMAGE}): InvalidImageName: no message",
        ),
    ),
    (
        "CreateContainerConfigError (a missing Secret)",
        job(),
        [pod(waiting("CreateContainerConfigError", 'secret "stratoflow-api" not found'))],
        JobOutcome(
            True, KILLED,
            f"cannot start for container flow ({IMAGE}): CreateContainerConfigError: "
            'secret "stratoflow-api" not found',
        ),
    ),
    (
        "ErrImagePull named when the deadline ends the Job",
        job(EXCEEDED),
        [pod(waiting("ErrImagePull", "manifest unknown"))],
        JobOutcome(
            True, KILLED,
            f"image pull failed for container flow ({IMAGE}): ErrImagePull: manifest unknown; "
            f"{DEADLINE}",
        ),
    ),
    (
        "OOMKilled",
        job(FAILED),
        [pod(ended(137, "OOMKilled"))],
        JobOutcome(
            True, 137,
            "out of memory: container flow was OOMKilled (exit code 137); raise its memory "
            f"limit; {BACKOFF}",
        ),
    ),
    (
        "OOMKilled in the last state of a restarted container",
        job(("FailureTarget", "BackoffLimitExceeded")),
        [pod(ended(137, "OOMKilled", last=True))],
        JobOutcome(
            True, KILLED,
            "out of memory: container flow was OOMKilled (exit code 137); raise its memory "
            f"limit; {BACKOFF}",
        ),
    ),
    (
        "exit code 137 without a reason",
        job(FAILED),
        [pod(ended(137))],
        JobOutcome(
            True, 137,
            "container flow was killed (exit code 137, SIGKILL: usually out of memory); raise "
            f"its memory limit; {BACKOFF}",
        ),
    ),
    (
        "Evicted",
        job(FAILED),
        [pod(reason="Evicted", message="The node was low on resource: memory.")],
        JobOutcome(
            True, KILLED,
            f"the pod was evicted (Evicted): The node was low on resource: memory.; {BACKOFF}",
        ),
    ),
    ("DeadlineExceeded with no pod left", job(EXCEEDED), [], JobOutcome(True, KILLED, DEADLINE)),
    (
        "DeadlineExceeded names why the pod never ran",
        job(EXCEEDED),
        [pod(**UNSCHEDULED)],
        JobOutcome(
            True, KILLED,
            f"the pod was never scheduled (Unschedulable): {UNSCHEDULABLE}; {DEADLINE}",
        ),
    ),
    (
        "a nonzero exit code",
        job(FAILED),
        [pod(ended(3))],
        JobOutcome(True, 3, f"container flow exited with code 3; {BACKOFF}"),
    ),
    (
        "an init container's exit code is named, the run's code is KILLED",
        job(FAILED),
        [pod(init=(ended(1, name="setup"),))],
        JobOutcome(True, KILLED, f"container setup exited with code 1; {BACKOFF}"),
    ),
    (
        "another Job failure reason, with its message",
        job(("Failed", "PodFailurePolicy"), message="flow exited with 42"),
        [],
        JobOutcome(True, KILLED, "the Job failed (PodFailurePolicy): flow exited with 42"),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("job_json", "pods", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_job_outcome(job_json: Json, pods: list[Json], expected: JobOutcome) -> None:
    assert job_outcome(job_json, pods) == expected


def test_succeeded_is_none_while_running_and_the_exit_code_says_once_over() -> None:
    assert (RUNNING.succeeded, JobOutcome(True, 0).succeeded, JobOutcome(True, 3).succeeded) == (
        None,
        True,
        False,
    )
