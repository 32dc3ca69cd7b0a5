"""Fixtures of the job-backend tests: the wire fakes served on 127.0.0.1 and backends on them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stratoflow_functions.launchers.kubeconfig import parse_kubeconfig
from stratoflow_functions.launchers.kubernetes_backend import KubernetesBackend
from tests.fakes.kubernetes_api import FakeKubernetesApi
from tests.fakes.wire import serve
from tests.unit.launchers.launchers_support import TOKEN, kubeconfig


@pytest.fixture
def kube() -> Iterator[tuple[FakeKubernetesApi, str]]:
    """The fake Kubernetes API (requiring `TOKEN`) and its URL."""
    fake = FakeKubernetesApi(token=TOKEN)
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
def k8s_backend(kube: tuple[FakeKubernetesApi, str]) -> KubernetesBackend:
    """A backend connected through a kubeconfig to the fake (namespace `flows`)."""
    return KubernetesBackend.from_connection(parse_kubeconfig(kubeconfig(kube[1])))
