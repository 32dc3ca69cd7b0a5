"""KubernetesBackend against the fake API over real HTTP: launch, every diagnosis, stop."""

from __future__ import annotations

import boto3
import pytest

from stratoflow_functions.launchers.backend_errors import JobBackendError
from stratoflow_functions.launchers.backends import JobStatus
from stratoflow_functions.launchers.kubeconfig import parse_kubeconfig
from stratoflow_functions.launchers.kubernetes_backend import KubernetesBackend
from tests.fakes.kubernetes_api import FakeKubernetesApi
from tests.unit.launchers.launchers_support import RUN_ID, job_manifest, kubeconfig

Kube = tuple[FakeKubernetesApi, str]
NAME = f"stratoflow-{RUN_ID}"
ID = f"flows/{NAME}"


@pytest.fixture
def launched(kube: Kube, k8s_backend: KubernetesBackend) -> FakeKubernetesApi:
    assert k8s_backend.launch(job_manifest()) == ID
    return kube[0]


def test_launch_creates_the_job_in_the_kubeconfigs_namespace(
    kube: Kube, k8s_backend: KubernetesBackend
) -> None:
    assert k8s_backend.launch(job_manifest()) == ID

    assert list(kube[0].jobs) == [("flows", NAME)]
    assert kube[0].headers[-1]["authorization"] == "Bearer sa-token-123"


def test_a_second_launch_of_the_same_job_is_the_same_launch(
    launched: FakeKubernetesApi, k8s_backend: KubernetesBackend
) -> None:
    assert k8s_backend.launch(job_manifest()) == ID

    assert len(launched.jobs) == 1
    assert [r[0] for r in launched.requests] == ["POST", "POST"]


def test_the_manifests_namespace_wins_over_the_kubeconfigs(
    kube: Kube, k8s_backend: KubernetesBackend
) -> None:
    assert k8s_backend.launch(job_manifest(namespace="batch")) == f"batch/{NAME}"
    assert ("batch", NAME) in kube[0].jobs


def test_a_running_job_and_a_pending_unschedulable_pod_are_not_finished(
    launched: FakeKubernetesApi, k8s_backend: KubernetesBackend
) -> None:
    assert k8s_backend.status(ID) == JobStatus(finished=False)  # no pod yet
    launched.unschedulable("flows", NAME)
    assert k8s_backend.status(ID) == JobStatus(finished=False)
    launched.run("flows", NAME)
    assert k8s_backend.status(ID) == JobStatus(finished=False)
    launched.image_pull_backoff("flows", NAME, reason="ErrImagePull")  # the kubelet retries
    assert k8s_backend.status(ID) == JobStatus(finished=False)


def test_a_completed_job_succeeded(
    launched: FakeKubernetesApi, k8s_backend: KubernetesBackend
) -> None:
    launched.succeed("flows", NAME)

    assert k8s_backend.status(ID) == JobStatus(finished=True, succeeded=True)


def _failure(backend: KubernetesBackend) -> str:
    status = backend.status(ID)
    assert (status.finished, status.succeeded) == (True, False)
    assert status.reason
    return status.reason


def test_oomkilled_is_diagnosed_as_out_of_memory(
    launched: FakeKubernetesApi, k8s_backend: KubernetesBackend
) -> None:
    launched.oom_kill("flows", NAME)

    reason = _failure(k8s_backend)
    assert reason.startswith("out of memory: container flow was OOMKilled (exit code 137)")
    assert "BackoffLimitExceeded" in reason


def test_image_pull_backoff_ends_the_run_although_the_job_never_fails(
    launched: FakeKubernetesApi, k8s_backend: KubernetesBackend
) -> None:
    launched.image_pull_backoff("flows", NAME)

    reason = _failure(k8s_backend)
    assert "image pull failed" in reason
    assert "ImagePullBackOff" in reason
    assert "registry.example/flows:1" in reason


def test_an_eviction_is_named_with_the_nodes_message(
    launched: FakeKubernetesApi, k8s_backend: KubernetesBackend
) -> None:
    launched.evict("flows", NAME)

    reason = _failure(k8s_backend)
    assert reason.startswith("the pod was evicted (Evicted): The node was low on resource: memory.")


def test_a_deadline_names_the_timeout_and_why_the_pod_never_ran(
    launched: FakeKubernetesApi, k8s_backend: KubernetesBackend
) -> None:
    launched.unschedulable("flows", NAME)
    launched.exceed_deadline("flows", NAME)

    reason = _failure(k8s_backend)
    assert "timed out (DeadlineExceeded): the Job ran longer than its activeDeadline" in reason
    assert "never scheduled (Unschedulable): 0/3 nodes are available: 3 Insufficient" in reason


def test_a_nonzero_exit_is_named_with_its_code(
    launched: FakeKubernetesApi, k8s_backend: KubernetesBackend
) -> None:
    launched.exit_with("flows", NAME, 3)

    assert _failure(k8s_backend) == (
        "container flow exited with code 3; the Job's pod failed (BackoffLimitExceeded)"
    )


def test_a_job_deleted_behind_the_launchers_back_has_disappeared(
    launched: FakeKubernetesApi, k8s_backend: KubernetesBackend
) -> None:
    launched.vanish("flows", NAME)

    assert _failure(k8s_backend).startswith("the Job disappeared")


def test_stop_deletes_the_job_and_its_pods_in_the_foreground_and_a_second_stop_is_done(
    launched: FakeKubernetesApi, k8s_backend: KubernetesBackend
) -> None:
    launched.run("flows", NAME)

    k8s_backend.stop(ID)
    k8s_backend.stop(ID)  # 404: already stopped

    assert launched.deletions == [("flows", NAME, "Foreground")]
    assert launched.jobs == {}
    assert launched.pods == {}


def test_a_refused_token_is_an_error_naming_credentials_and_rbac(kube: Kube) -> None:
    backend = KubernetesBackend.from_connection(
        parse_kubeconfig(kubeconfig(kube[1], user={"token": "stale"}))
    )

    with pytest.raises(JobBackendError, match=r"401 creating Job flows/.*RBAC Role"):
        backend.launch(job_manifest())
    assert kube[0].jobs == {}


def test_an_unreachable_api_server_is_an_error_naming_it() -> None:
    backend = KubernetesBackend.from_connection(parse_kubeconfig(kubeconfig("http://127.0.0.1:9")))

    with pytest.raises(
        JobBackendError, match=r"cannot reach the Kubernetes API at http://127.0.0.1:9"
    ):
        backend.status(ID)


def test_the_backend_reads_its_kubeconfig_from_secrets_manager(aws: None, kube: Kube) -> None:
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="stratoflow/kubeconfig", SecretString=kubeconfig(kube[1]))[
        "ARN"
    ]

    backend = KubernetesBackend.from_secret(secrets, arn)

    assert backend.launch(job_manifest()) == ID
    assert ("flows", NAME) in kube[0].jobs
