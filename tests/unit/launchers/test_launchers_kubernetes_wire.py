"""The fake Kubernetes API speaks the real wire API: the real `kubernetes` client drives it.

What the backend relies on the fake for (create, 409 on a taken name, get, list by label
selector, Pod states, delete with propagation, 404, 401) is checked here through
`BatchV1Api` / `CoreV1Api`, which (de)serialise every object through the client's OpenAPI
models: a field the fake spelled wrong or left out that the model requires would fail here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.fakes.kubernetes_api import FakeKubernetesApi
from tests.unit.launchers.launchers_support import RUN_ID, TOKEN, job_manifest

NAME = f"stratoflow-{RUN_ID}"


def _api(url: str, token: str = TOKEN) -> client.ApiClient:
    config = client.Configuration(host=url)
    config.api_key = {"authorization": token}
    config.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(config)


@pytest.fixture
def apis(
    kube: tuple[FakeKubernetesApi, str],
) -> Iterator[tuple[client.BatchV1Api, client.CoreV1Api]]:
    with _api(kube[1]) as api:
        yield client.BatchV1Api(api), client.CoreV1Api(api)


def test_the_real_client_creates_a_job_and_a_second_create_is_a_409_already_exists(
    apis: tuple[client.BatchV1Api, client.CoreV1Api],
) -> None:
    batch, _ = apis
    created = batch.create_namespaced_job("flows", body=job_manifest())

    assert created.metadata.name == NAME
    assert created.metadata.uid
    assert (
        created.spec.selector.match_labels["batch.kubernetes.io/controller-uid"]
        == created.metadata.uid
    )
    assert created.spec.template.metadata.labels["job-name"] == NAME
    with pytest.raises(ApiException) as raised:
        batch.create_namespaced_job("flows", body=job_manifest())
    assert raised.value.status == 409
    assert '"reason": "AlreadyExists"' in raised.value.body


def test_the_real_client_reads_the_failed_condition_and_the_oomkilled_pod(
    kube: tuple[FakeKubernetesApi, str], apis: tuple[client.BatchV1Api, client.CoreV1Api]
) -> None:
    fake, _ = kube
    batch, core = apis
    batch.create_namespaced_job("flows", body=job_manifest())
    fake.oom_kill("flows", NAME)

    job = batch.read_namespaced_job(NAME, "flows")
    [condition] = job.status.conditions
    assert (condition.type, condition.status, condition.reason) == (
        "Failed",
        "True",
        "BackoffLimitExceeded",
    )
    [pod] = core.list_namespaced_pod("flows", label_selector=f"job-name={NAME}").items
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.reason, terminated.exit_code) == ("OOMKilled", 137)


def test_the_real_client_lists_jobs_and_pods_by_label_selector(
    kube: tuple[FakeKubernetesApi, str], apis: tuple[client.BatchV1Api, client.CoreV1Api]
) -> None:
    fake, _ = kube
    batch, core = apis
    batch.create_namespaced_job("flows", body=job_manifest())
    fake.image_pull_backoff("flows", NAME)

    mine = batch.list_namespaced_job("flows", label_selector=f"stratoflow.io/flow-run-id={RUN_ID}")
    other = batch.list_namespaced_job("flows", label_selector="stratoflow.io/flow-run-id=other")
    assert [job.metadata.name for job in mine.items] == [NAME]
    assert other.items == []
    [pod] = core.list_namespaced_pod(
        "flows", label_selector=f"stratoflow.io/flow-run-id={RUN_ID}"
    ).items
    assert pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"


def test_the_real_client_deletes_with_foreground_propagation_then_gets_404(
    kube: tuple[FakeKubernetesApi, str], apis: tuple[client.BatchV1Api, client.CoreV1Api]
) -> None:
    fake, _ = kube
    batch, core = apis
    batch.create_namespaced_job("flows", body=job_manifest())
    fake.run("flows", NAME)

    batch.delete_namespaced_job(NAME, "flows", propagation_policy="Foreground")

    assert fake.deletions == [("flows", NAME, "Foreground")]
    assert core.list_namespaced_pod("flows", label_selector=f"job-name={NAME}").items == []
    for call in (batch.read_namespaced_job, batch.delete_namespaced_job):
        with pytest.raises(ApiException) as raised:
            call(NAME, "flows")
        assert raised.value.status == 404


def test_the_fake_refuses_a_wrong_token_with_401(kube: tuple[FakeKubernetesApi, str]) -> None:
    with _api(kube[1], token="wrong") as api, pytest.raises(ApiException) as raised:
        client.BatchV1Api(api).list_namespaced_job("flows")

    assert raised.value.status == 401
