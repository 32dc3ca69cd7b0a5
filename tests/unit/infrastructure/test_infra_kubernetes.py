"""The Kubernetes Job manifest: every one deserialises into the real client's `V1Job` with no key
dropped, carries the run's name, labels and environment, takes the key from a Secret, and
matches its snapshot."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client import ApiClient, V1Job

from stratoflow.infrastructure import KubernetesSettings, job_manifest, launch_environment
from tests.unit.infrastructure.infra_support import (
    API_URL,
    DEPLOYMENT_ID,
    RUN_ID,
    assert_snapshot,
    flow_run,
)

FULL: dict[str, Any] = {
    "image": "ghcr.io/acme/etl:1.2",
    "namespace": "flows",
    "service_account_name": "etl-runner",
    "image_pull_policy": "IfNotPresent",
    "image_pull_secrets": ["ghcr-pull"],
    "resources": {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": 2, "memory": "4Gi"},
    },
    "node_selector": {"pool": "batch"},
    "tolerations": [
        {"key": "batch", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
        {"operator": "Exists", "effect": "NoExecute", "toleration_seconds": 60},
    ],
    "labels": {"team": "data", "example.com/cost-centre": "c42"},
    "annotations": {"example.com/owner": "data-team@example.com"},
    "ttl_seconds_after_finished": 600,
    "active_deadline_seconds": 7200,
    "api_key_secret": {"name": "stratoflow-api-key", "key": "key"},
    "env": {"WAREHOUSE": "analytics"},
}


def as_v1_job(manifest: dict[str, Any]) -> V1Job:
    """The manifest through the real client's models, failing if any key was not understood."""
    client = ApiClient()
    job = client.deserialize(json.dumps(manifest), "V1Job", "application/json")
    assert isinstance(job, V1Job)
    assert client.sanitize_for_serialization(job) == manifest  # nothing dropped or renamed
    return job


def _manifest(values: dict[str, Any], **kw: Any) -> dict[str, Any]:
    settings = KubernetesSettings.model_validate(values)
    environment = launch_environment(API_URL, RUN_ID, settings.env)
    return job_manifest(settings, kw.get("run", flow_run()), "acme/etl:1.2", environment)


@pytest.mark.parametrize("values", [{}, FULL, {"labels": {"a": ""}, "tolerations": [{}]}])
def test_every_manifest_is_a_v1_job_with_no_key_dropped(values: dict[str, Any]) -> None:
    job = as_v1_job(_manifest(values))
    assert job.spec.backoff_limit == 0
    assert job.spec.template.spec.restart_policy == "Never"


def test_a_key_the_model_does_not_know_fails_the_round_trip() -> None:
    """The check itself can fail: a misspelt field is dropped by the models and caught."""
    manifest = _manifest({})
    manifest["spec"]["backoffLimt"] = 0
    with pytest.raises(AssertionError):
        as_v1_job(manifest)


def test_the_job_is_named_for_the_run_and_labelled_with_it() -> None:
    job = as_v1_job(_manifest(FULL))
    assert job.metadata.name == f"stratoflow-{RUN_ID}"
    assert job.metadata.namespace == "flows"
    for labels in (job.metadata.labels, job.spec.template.metadata.labels):
        assert labels["stratoflow.io/flow-run-id"] == str(RUN_ID)
        assert labels["stratoflow.io/deployment-id"] == str(DEPLOYMENT_ID)
        assert labels["team"] == "data"


def test_the_container_runs_the_flow_with_the_launch_environment_and_the_key_by_reference() -> None:
    job = as_v1_job(_manifest(FULL))
    (container,) = job.spec.template.spec.containers
    assert container.command == ["stratoflow", "execute", str(RUN_ID)]
    env = {e.name: e for e in container.env}
    assert env["STRATOFLOW_API_URL"].value == API_URL
    assert env["STRATOFLOW_FLOW_RUN_ID"].value == str(RUN_ID)
    assert env["WAREHOUSE"].value == "analytics"
    # what the launcher backend's `launch` returns and the agent's handle names: the engine's
    # heartbeats repeat it instead of `pid:1`
    assert env["STRATOFLOW_INFRASTRUCTURE_ID"].value == f"flows/stratoflow-{RUN_ID}"
    key = env["STRATOFLOW_API_KEY"]
    assert key.value is None
    assert (key.value_from.secret_key_ref.name, key.value_from.secret_key_ref.key) == (
        "stratoflow-api-key", "key",
    )  # fmt: skip


def test_the_settings_reach_the_pod() -> None:
    job = as_v1_job(_manifest(FULL))
    pod = job.spec.template.spec
    assert pod.service_account_name == "etl-runner"
    assert pod.node_selector == {"pool": "batch"}
    assert [t.effect for t in pod.tolerations] == ["NoSchedule", "NoExecute"]
    assert pod.tolerations[1].toleration_seconds == 60
    assert [s.name for s in pod.image_pull_secrets] == ["ghcr-pull"]
    assert pod.containers[0].resources.limits == {"cpu": "2", "memory": "4Gi"}
    assert (job.spec.ttl_seconds_after_finished, job.spec.active_deadline_seconds) == (600, 7200)


def test_a_user_label_cannot_hide_the_run_label() -> None:
    manifest = _manifest({"labels": {"stratoflow.io/flow-run-id": "other"}})
    assert manifest["metadata"]["labels"]["stratoflow.io/flow-run-id"] == str(RUN_ID)


def test_without_a_secret_there_is_no_key_variable_at_all() -> None:
    (container,) = _manifest({})["spec"]["template"]["spec"]["containers"]
    assert "STRATOFLOW_API_KEY" not in {e["name"] for e in container["env"]}
    assert "resources" not in container


def test_the_manifests_match_their_snapshots() -> None:
    assert_snapshot("kubernetes_job_default", _manifest({}))
    assert_snapshot("kubernetes_job_full", _manifest(FULL))


def test_a_users_variable_cannot_hide_the_jobs_infrastructure_id() -> None:
    settings = KubernetesSettings(namespace="flows")
    environment = {"STRATOFLOW_INFRASTRUCTURE_ID": "mine"}
    (container,) = job_manifest(settings, flow_run(), "img", environment)["spec"]["template"][
        "spec"
    ]["containers"]
    ids = [e["value"] for e in container["env"] if e["name"] == "STRATOFLOW_INFRASTRUCTURE_ID"]
    assert ids == [f"flows/stratoflow-{RUN_ID}"]


def test_a_resurrected_run_gets_a_job_of_its_own() -> None:
    first = flow_run()
    again = first.model_copy(update={"resurrections": 2})

    names = [job_manifest(KubernetesSettings(), run, "img", {})["metadata"]["name"]
             for run in (first, again)]  # fmt: skip

    assert names == [f"stratoflow-{RUN_ID}", f"stratoflow-{RUN_ID}-r2"]
    assert len(names[1]) <= 63  # a DNS label
