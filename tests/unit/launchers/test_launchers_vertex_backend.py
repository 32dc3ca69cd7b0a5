"""VertexBackend against the fake JobService over real HTTP, authenticated by a real
service-account key (google-auth signs the JWT; the fake verifies it and its tokens)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
import pytest

from stratoflow_functions.launchers.backend_errors import BackendConfigError, JobBackendError
from stratoflow_functions.launchers.backends import JobStatus
from stratoflow_functions.launchers.vertex_backend import VertexBackend
from tests.fakes.vertex_api import FakeVertexApi
from tests.unit.launchers.launchers_support import PROJECT, REGION, RUN_ID, custom_job

Vertex = tuple[FakeVertexApi, str, dict[str, Any]]
PARENT = f"projects/{PROJECT}/locations/{REGION}"


def test_launch_creates_a_custom_job_in_the_keys_project_with_a_token_from_the_key(
    vertex: Vertex, vertex_backend: VertexBackend
) -> None:
    fake = vertex[0]
    name = vertex_backend.launch(custom_job())

    assert name == f"{PARENT}/customJobs/1000"
    assert fake.jobs[name]["labels"] == {"stratoflow-flow-run-id": RUN_ID}
    assert fake.issued == ["ya29.fake-0"]  # one token, reused by the list and the create
    jobs = f"/v1/{PARENT}/customJobs"
    assert [r[:2] for r in fake.requests] == [("POST", "/token"), ("GET", jobs), ("POST", jobs)]
    assert fake.requests[1][2]["filter"] == f'labels.stratoflow-flow-run-id="{RUN_ID}"'


def test_a_second_launch_of_the_same_run_reuses_its_job(
    vertex: Vertex, vertex_backend: VertexBackend
) -> None:
    first = vertex_backend.launch(custom_job())
    vertex[0].run(first)

    assert vertex_backend.launch(custom_job()) == first
    assert len(vertex[0].jobs) == 1


def test_a_failed_job_of_the_run_is_not_reused_by_a_relaunch(
    vertex: Vertex, vertex_backend: VertexBackend
) -> None:
    first = vertex_backend.launch(custom_job())
    vertex[0].fail(first, "The replica workerpool0-0 exited with a non-zero status of 1.")

    second = vertex_backend.launch(custom_job())

    assert second != first
    assert len(vertex[0].jobs) == 2


def test_a_job_of_another_run_is_not_reused(vertex: Vertex, vertex_backend: VertexBackend) -> None:
    other = vertex_backend.launch(custom_job("11111111-2222-3333-4444-555555555555"))

    assert vertex_backend.launch(custom_job()) != other


def test_pending_and_running_are_not_finished_and_succeeded_is(
    vertex: Vertex, vertex_backend: VertexBackend
) -> None:
    name = vertex_backend.launch(custom_job())
    assert vertex_backend.status(name) == JobStatus(finished=False)
    vertex[0].run(name)
    assert vertex_backend.status(name) == JobStatus(finished=False)
    vertex[0].succeed(name)
    assert vertex_backend.status(name) == JobStatus(finished=True, succeeded=True)


@pytest.mark.parametrize(
    ("code", "message", "reason"),
    [
        (8, "The following quota metrics exceed quota limits: custom_model_training_cpus",
         "quota exceeded: The following quota metrics exceed quota limits"),
        (3, "Quota exceeded for aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus",
         "quota exceeded: Quota exceeded for"),
        (4, "Job exceeded its timeout of 3600s.", "timed out: Job exceeded its timeout"),
        (3, "The replica workerpool0-0 exited with a non-zero status of 137.",
         "the CustomJob failed: The replica workerpool0-0 exited with a non-zero status of 137."),
    ],
)  # fmt: skip
def test_a_failed_job_is_diagnosed_from_its_error(
    vertex: Vertex, vertex_backend: VertexBackend, code: int, message: str, reason: str
) -> None:
    name = vertex_backend.launch(custom_job())
    vertex[0].fail(name, message, code)

    status = vertex_backend.status(name)

    assert (status.finished, status.succeeded) == (True, False)
    assert status.reason is not None
    assert status.reason.startswith(reason)


def test_expired_and_vanished_jobs_are_failures_that_say_so(
    vertex: Vertex, vertex_backend: VertexBackend
) -> None:
    expired = vertex_backend.launch(custom_job())
    vertex[0].expire(expired)
    vanished = vertex_backend.launch(custom_job("11111111-2222-3333-4444-555555555555"))
    vertex[0].vanish(vanished)

    assert (
        vertex_backend.status(expired).reason == "the CustomJob expired before it ran (no message)"
    )
    assert vertex_backend.status(vanished) == JobStatus(
        True, False, f"the CustomJob disappeared ({vanished})"
    )


def test_stop_cancels_and_a_cancelled_ended_or_missing_job_counts_as_stopped(
    vertex: Vertex, vertex_backend: VertexBackend
) -> None:
    name = vertex_backend.launch(custom_job())

    vertex_backend.stop(name)
    vertex_backend.stop(name)  # 400 FAILED_PRECONDITION: already cancelled
    vertex_backend.stop(f"{PARENT}/customJobs/999")  # 404

    assert vertex[0].cancels == [name]
    assert vertex_backend.status(name).reason == "the CustomJob was cancelled (no message)"


def test_a_refused_token_is_an_error_naming_the_roles(vertex: Vertex) -> None:
    backend = VertexBackend(
        httpx.Client(), lambda: "stolen", project=PROJECT, region=REGION, endpoint=vertex[1]
    )

    with pytest.raises(JobBackendError, match=r"401 listing CustomJobs.*roles/aiplatform.user"):
        backend.launch(custom_job())
    assert vertex[0].jobs == {}


def test_a_key_the_token_endpoint_refuses_is_an_error(aws: None, vertex: Vertex) -> None:
    fake = vertex[0]
    fake.client_email = "someone-else@proj-1.iam.gserviceaccount.com"
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="k", SecretString=json.dumps(vertex[2]))["ARN"]
    backend = VertexBackend.from_secret(secrets, arn, region=REGION, endpoint=vertex[1])

    with pytest.raises(JobBackendError, match="no GCP access token for the service account"):
        backend.status(f"{PARENT}/customJobs/1")


@pytest.mark.parametrize(
    ("secret", "message"),
    [("not json", "is not JSON"), ('{"type": "authorized_user"}', "not a service-account key")],
)
def test_a_secret_that_is_no_service_account_key_is_a_config_error(
    aws: None, secret: str, message: str
) -> None:
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="k", SecretString=secret)["ARN"]

    with pytest.raises(BackendConfigError, match=message):
        VertexBackend.from_secret(secrets, arn, region=REGION)


def test_a_job_without_the_run_label_is_refused_before_any_call(
    vertex: Vertex, vertex_backend: VertexBackend
) -> None:
    job = custom_job()
    del job["labels"]

    with pytest.raises(JobBackendError, match="no stratoflow-flow-run-id label"):
        vertex_backend.launch(job)
    assert vertex[0].requests == []
