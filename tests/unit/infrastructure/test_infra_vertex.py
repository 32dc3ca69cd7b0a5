"""The Vertex CustomJob: every one parses into the real `google.cloud.aiplatform_v1.CustomJob`
with no unknown field, carries the run's command, environment and label, passes the API key
only as a Secret Manager reference, and matches its snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.infrastructure import VertexSettings, custom_job, launch_environment
from tests.unit.infrastructure.infra_support import API_URL, RUN_ID, assert_snapshot, flow_run

aiplatform_v1 = pytest.importorskip(
    "google.cloud.aiplatform_v1",
    reason="google-cloud-aiplatform is not installable here (it is in the root dev group)",
)
json_format = pytest.importorskip("google.protobuf.json_format", reason="protobuf comes with it")

SECRET = "projects/acme-ml/secrets/stratoflow-api-key/versions/3"
FULL: dict[str, Any] = {
    "image": "europe-docker.pkg.dev/acme-ml/flows/etl:1.2",
    "project": "acme-ml",
    "region": "europe-west4",
    "machine_type": "a2-highgpu-1g",
    "accelerator_type": "NVIDIA_TESLA_A100",
    "accelerator_count": 1,
    "boot_disk_type": "pd-standard",
    "boot_disk_size_gb": 200,
    "service_account": "etl-runner@acme-ml.iam.gserviceaccount.com",
    "network": "projects/123456789/global/networks/flows",
    "labels": {"team": "data"},
    "timeout_seconds": 7200,
    "api_key_secret": SECRET,
    "env": {"WAREHOUSE": "analytics"},
}


def as_custom_job(body: dict[str, Any]) -> Any:
    """`body` parsed into the real CustomJob message; an unknown field raises."""
    message = aiplatform_v1.CustomJob.pb(aiplatform_v1.CustomJob())
    json_format.ParseDict(body, message, ignore_unknown_fields=False)
    return aiplatform_v1.CustomJob.wrap(message)


def _job(values: dict[str, Any]) -> dict[str, Any]:
    settings = VertexSettings.model_validate(values)
    environment = launch_environment(API_URL, RUN_ID, settings.env)
    return custom_job(settings, flow_run(), "acme/etl:1.2", environment)


@pytest.mark.parametrize("values", [{}, FULL])
def test_every_custom_job_parses_into_the_real_type(values: dict[str, Any]) -> None:
    job = as_custom_job(_job(values))
    (pool,) = job.job_spec.worker_pool_specs
    assert pool.replica_count == 1
    assert list(pool.container_spec.command) == ["stratoflow", "execute", str(RUN_ID)]


def test_the_parse_refuses_a_field_the_type_does_not_have() -> None:
    """The check itself can fail: a misspelt field raises."""
    body = _job({})
    body["jobSpec"]["workerPoolSpec"] = []
    with pytest.raises(json_format.ParseError):
        as_custom_job(body)


def test_the_settings_reach_the_job() -> None:
    job = as_custom_job(_job(FULL))
    (pool,) = job.job_spec.worker_pool_specs
    assert pool.machine_spec.machine_type == "a2-highgpu-1g"
    assert pool.machine_spec.accelerator_type.name == "NVIDIA_TESLA_A100"
    assert pool.machine_spec.accelerator_count == 1
    assert (pool.disk_spec.boot_disk_type, pool.disk_spec.boot_disk_size_gb) == ("pd-standard", 200)
    assert pool.container_spec.image_uri == "acme/etl:1.2"
    assert job.job_spec.service_account == FULL["service_account"]
    assert job.job_spec.network == FULL["network"]
    assert job.job_spec.scheduling.timeout.total_seconds() == 7200
    assert job.labels["stratoflow-flow-run-id"] == str(RUN_ID)
    assert job.labels["team"] == "data"
    assert job.display_name == f"stratoflow-{RUN_ID}"


def test_the_key_travels_as_a_secret_manager_reference_only() -> None:
    (pool,) = as_custom_job(_job(FULL)).job_spec.worker_pool_specs
    env = {e.name: e.value for e in pool.container_spec.env}
    assert env == {
        "STRATOFLOW_API_URL": API_URL,
        "STRATOFLOW_FLOW_RUN_ID": str(RUN_ID),
        "WAREHOUSE": "analytics",
        "STRATOFLOW_API_KEY_SECRET": SECRET,
    }
    (bare,) = as_custom_job(_job({})).job_spec.worker_pool_specs
    assert {e.name for e in bare.container_spec.env} == {
        "STRATOFLOW_API_URL",
        "STRATOFLOW_FLOW_RUN_ID",
    }


def test_no_accelerator_means_no_accelerator_fields() -> None:
    machine = _job({})["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]
    assert machine == {"machineType": "n1-standard-4"}


def test_the_custom_jobs_match_their_snapshots() -> None:
    assert_snapshot("vertex_custom_job_default", _job({}))
    assert_snapshot("vertex_custom_job_full", _job(FULL))
