"""The port the Kubernetes and Vertex launcher steps call to start, watch and stop a job.

`kubernetes_backend.KubernetesBackend` and `vertex_backend.VertexBackend` implement it over
each platform's REST API; tests drive them against the wire fakes in `tests/fakes/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class JobStatus:
    """What a backend saw of one job.

    Attributes:
        finished: The job ended (or is gone); it will not change again.
        succeeded: Whether it ended well; None while it runs.
        reason: The diagnosis when it failed (image pull error, OOM, eviction, quota, ...).
    """

    finished: bool
    succeeded: bool | None = None
    reason: str | None = None


class JobBackend(Protocol):
    """Starts, watches and stops the job that runs one flow run on an infrastructure."""

    def launch(self, spec: dict[str, Any]) -> str:
        """Start the job `spec` describes; a job that already exists counts as launched.

        Returns:
            The infrastructure id the other two methods take.
        """
        ...

    def status(self, infrastructure_id: str) -> JobStatus:
        """What the job is doing now."""
        ...

    def stop(self, infrastructure_id: str) -> None:
        """Stop the job; a job that is not found counts as stopped."""
        ...
