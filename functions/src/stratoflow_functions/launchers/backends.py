"""The port the Kubernetes and Vertex launcher steps call: launch a job spec, read its status,
stop it. Helper modules implement it per infrastructure (`kubernetes_backend`,
`vertex_backend`); `backend_for` builds the one a launcher Lambda needs, lazily, so the heavy
clients load only where they run."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from stratoflow.infrastructure.outcome import JobOutcome
from stratoflow.schemas import InfrastructureType
from stratoflow_functions.config import Settings


@dataclass(frozen=True)
class JobStatus:
    """What a job's infrastructure says about it.

    Attributes:
        finished: The job will not run any further (succeeded, failed, deleted).
        succeeded: Whether it succeeded; None while it runs.
        reason: The diagnosis when it failed (image pull, OOM, eviction, quota, timeout).
    """

    finished: bool
    succeeded: bool | None = None
    reason: str | None = None

    @classmethod
    def of(cls, outcome: JobOutcome) -> JobStatus:
        """The status the SDK's pure diagnosis (`stratoflow.infrastructure.*_status`) reads."""
        return cls(outcome.over, outcome.succeeded, outcome.reason)


class JobBackend(Protocol):
    """Starts, watches and stops one infrastructure's jobs."""

    def launch(self, spec: dict[str, Any]) -> str:
        """Create the job; its infrastructure id. A job that already exists counts as
        launched (a retried launch answers the same id)."""
        ...

    def status(self, infrastructure_id: str) -> JobStatus:
        """The job's status now."""
        ...

    def stop(self, infrastructure_id: str) -> None:
        """Stop the job; a job that is not found counts as stopped."""
        ...


BACKEND_MODULES = {
    InfrastructureType.KUBERNETES: "stratoflow_functions.launchers.kubernetes_backend",
    InfrastructureType.VERTEX: "stratoflow_functions.launchers.vertex_backend",
}
"""Each backend module exposes `build(settings, infra_settings) -> JobBackend`."""

BackendFactory = Callable[[InfrastructureType, Settings, Any], JobBackend]
"""Builds an infrastructure's backend from the stack's settings and a deployment's validated
infrastructure settings (`backend_for` in production, an in-memory backend in tests)."""


class NoBackendError(ValueError):
    """The stack has no job backend for an infrastructure."""


def backend_for(
    infrastructure: InfrastructureType, settings: Settings, infra_settings: Any
) -> JobBackend:
    """The backend of `infrastructure`, its module imported only when asked for (the
    kubernetes client and google-auth load only in the Lambda that needs them).

    Raises:
        NoBackendError: `infrastructure` is not launched through a job backend.
    """
    name = BACKEND_MODULES.get(infrastructure)
    if name is None:
        raise NoBackendError(f"{infrastructure} has no job backend")
    build = importlib.import_module(name).build
    backend: JobBackend = build(settings, infra_settings)
    return backend
