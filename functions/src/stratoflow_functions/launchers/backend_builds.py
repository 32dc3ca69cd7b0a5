"""How a launcher Lambda builds its job backend: once per cold start, from the stack's secret.

`backends.backend_for` imports the backend's module only when asked for, and calls its `build`.
The kubeconfig or service-account key is read from Secrets Manager once per secret (and, for
Vertex, per project and region) and the backend, with its HTTP connection pool, is kept for the
Lambda's later invocations.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3

from stratoflow_functions.launchers.backend_errors import BackendConfigError


def secret_of(value: str | None, variable: str) -> str:
    """The secret ARN a backend needs, or a clear error naming the setting that is missing."""
    if not value:
        raise BackendConfigError(f"{variable} is not set: the launcher cannot reach its cluster")
    return value


@cache
def secrets_client(region: str, endpoint_url: str | None) -> Any:
    """One Secrets Manager client per region and endpoint (the emulator's, locally)."""
    return boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint_url)
