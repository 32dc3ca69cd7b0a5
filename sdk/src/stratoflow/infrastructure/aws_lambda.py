"""The invocation payload of the stack's runner function for `--infra lambda`.

The payload names the run and nothing else: the runner reads the run, its deployment and their
settings from the API itself, with the function's own role, so no secret is ever in it.
"""

from __future__ import annotations

from stratoflow.infrastructure.settings import LAMBDA_MAX_SECONDS, LambdaSettings
from stratoflow.schemas import FlowRun

__all__ = ["LAMBDA_MAX_SECONDS", "LambdaSettings", "runner_payload"]


def runner_payload(run: FlowRun) -> dict[str, str]:
    """The event the runner function is invoked with for `run`."""
    return {"flow_run_id": str(run.id)}
