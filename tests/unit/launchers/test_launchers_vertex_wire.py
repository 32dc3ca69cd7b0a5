"""The fake JobService speaks Vertex's real REST API: the real `google.cloud.aiplatform_v1`
client (REST transport) drives it, parsing every reply into its protobuf types."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.fakes.vertex_api import FakeVertexApi
from tests.fakes.wire import serve
from tests.unit.launchers.launchers_support import PROJECT, REGION, RUN_ID, custom_job

aiplatform_v1 = pytest.importorskip(
    "google.cloud.aiplatform_v1",
    reason="google-cloud-aiplatform (root dev group) is not installed in this environment",
)
from google.api_core import exceptions  # noqa: E402 - after the importorskip above
from google.auth.credentials import AnonymousCredentials  # noqa: E402

PARENT = f"projects/{PROJECT}/locations/{REGION}"
FILTER = f'labels.stratoflow-flow-run-id="{RUN_ID}"'


@pytest.fixture
def wired() -> Iterator[tuple[FakeVertexApi, object]]:
    fake = FakeVertexApi()  # no auth: the client's credentials are anonymous
    with serve(fake) as url:
        client = aiplatform_v1.JobServiceClient(
            transport="rest",
            client_options={"api_endpoint": url},
            credentials=AnonymousCredentials(),
        )
        yield fake, client


def _job() -> object:
    # The builder's REST JSON parses strictly into the client's type: same wire shape.
    return aiplatform_v1.CustomJob.from_json(json.dumps(custom_job()), ignore_unknown_fields=False)


def test_the_real_client_creates_gets_and_lists_a_job_by_label(
    wired: tuple[FakeVertexApi, object],
) -> None:
    fake, client = wired
    created = client.create_custom_job(parent=PARENT, custom_job=_job())

    assert created.name == f"{PARENT}/customJobs/1000"
    assert created.state == aiplatform_v1.JobState.JOB_STATE_PENDING
    assert created.job_spec.worker_pool_specs[0].machine_spec.machine_type == "n1-standard-4"
    fake.run(created.name)
    assert (
        client.get_custom_job(name=created.name).state == aiplatform_v1.JobState.JOB_STATE_RUNNING
    )
    listed = client.list_custom_jobs(request={"parent": PARENT, "filter": FILTER})
    assert [job.name for job in listed] == [created.name]
    other = client.list_custom_jobs(
        request={"parent": PARENT, "filter": 'labels.stratoflow-flow-run-id="x"'}
    )
    assert list(other) == []


def test_the_real_client_reads_a_failed_jobs_error(wired: tuple[FakeVertexApi, object]) -> None:
    fake, client = wired
    created = client.create_custom_job(parent=PARENT, custom_job=_job())
    fake.fail(created.name, "Quota exceeded for custom_model_training_cpus", code=8)

    job = client.get_custom_job(name=created.name)

    assert job.state == aiplatform_v1.JobState.JOB_STATE_FAILED
    assert (job.error.code, job.error.message) == (
        8,
        "Quota exceeded for custom_model_training_cpus",
    )


def test_the_real_client_cancels_then_sees_failed_precondition_and_not_found(
    wired: tuple[FakeVertexApi, object],
) -> None:
    _, client = wired
    created = client.create_custom_job(parent=PARENT, custom_job=_job())

    client.cancel_custom_job(name=created.name)

    assert (
        client.get_custom_job(name=created.name).state == aiplatform_v1.JobState.JOB_STATE_CANCELLED
    )
    with pytest.raises(exceptions.BadRequest) as raised:  # 400 FAILED_PRECONDITION
        client.cancel_custom_job(name=created.name)
    assert raised.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    with pytest.raises(exceptions.NotFound):
        client.get_custom_job(name=f"{PARENT}/customJobs/999")
