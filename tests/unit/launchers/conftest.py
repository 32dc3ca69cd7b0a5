"""Fixtures of the job-backend tests: the wire fakes served on 127.0.0.1 and backends on them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from stratoflow_functions.launchers.kubeconfig import parse_kubeconfig
from stratoflow_functions.launchers.kubernetes_backend import KubernetesBackend
from stratoflow_functions.launchers.vertex_backend import VertexBackend
from tests.fakes.kubernetes_api import FakeKubernetesApi
from tests.fakes.vertex_api import FakeVertexApi
from tests.fakes.wire import serve
from tests.unit.launchers.launchers_support import (
    REGION,
    SERVICE_ACCOUNT,
    TOKEN,
    kubeconfig,
    service_account_key,
)


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


@pytest.fixture
def vertex() -> Iterator[tuple[FakeVertexApi, str, dict[str, Any]]]:
    """The fake Vertex API (checking the key's JWT and the tokens it issued), its URL and a
    service-account key file whose token endpoint is the fake's."""
    fake = FakeVertexApi(client_email=SERVICE_ACCOUNT)
    with serve(fake) as url:
        info, public = service_account_key(f"{url}/token")
        fake.public_key_pem = public
        yield fake, url, info


@pytest.fixture
def vertex_backend(aws: None, vertex: tuple[FakeVertexApi, str, dict[str, Any]]) -> VertexBackend:
    """A backend built from the key in (moto's) Secrets Manager, on the fake."""
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="stratoflow/vertex", SecretString=json.dumps(vertex[2]))["ARN"]
    return VertexBackend.from_secret(secrets, arn, region=REGION, endpoint=vertex[1])
