"""Cancelling a pushed run: stop what runs it, so its launcher settles it CANCELLED.

The API moves the run to CANCELLING (`services.flow_runs.cancel_flow_run`) and then calls
`PushCanceller.stop`. For ECS, the launcher waits on `ecs:runTask.sync`: stopping the task
(StopTask on the ARN recorded on the run) makes that step return, and the machine's settle step
turns CANCELLING into CANCELLED. A run with no task recorded yet has its execution stopped
instead (Step Functions stops the task a `.sync` step started). Kubernetes and Vertex runs need
nothing here (their status poll sees CANCELLING, stops the job and settles), nor Lambda runs
(the engine in the runner sees CANCELLING on its heartbeat). See docs/launchers.md.

A stop that fails is logged and never fails the cancel: the run is CANCELLING whatever
happens here, and the engine or the zombie killer ends it.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from stratoflow.orchestration.cancellation import CANCEL_MESSAGE
from stratoflow.schemas import FlowRun, InfrastructureType
from stratoflow_functions.config import Settings
from stratoflow_functions.launchers.dispatcher import sfn_client
from stratoflow_functions.launchers.names import (
    EXECUTION_SEGMENT,
    execution_arn,
    execution_name,
)

logger = logging.getLogger(__name__)

NOT_FOUND_CODES = frozenset(
    {"ExecutionDoesNotExist", "ClusterNotFoundException", "ResourceNotFoundException"}
)
"""Error codes that mean there is nothing left to stop."""


class StopOutcome(StrEnum):
    """What one `stop` did."""

    TASK_STOPPED = "task_stopped"
    EXECUTION_STOPPED = "execution_stopped"
    GONE = "gone"
    """Nothing to stop any more (not found counts as done)."""
    NOTHING_TO_DO = "nothing_to_do"
    """Not an ECS push run: its poll loop or its engine settles it."""
    FAILED = "failed"
    """The stop call failed (logged)."""

    @property
    def ends_run(self) -> bool:
        """Whether nothing runs the run any more, so it may be CANCELLED now: stopping its
        execution stops the task `ecs:runTask.sync` started (a stopped task is settled by the
        execution itself, once `.sync` returns)."""
        return self is StopOutcome.EXECUTION_STOPPED


class RunStopper(Protocol):
    """Stops the infrastructure of a pushed run being cancelled (the API's side of cancel)."""

    def stop(self, run: FlowRun) -> StopOutcome:
        """Stop what runs `run`; never raises for an AWS error."""
        ...


def ecs_client(settings: Settings) -> Any:
    """An ECS client for these settings (the emulator's in the local stack)."""
    import boto3

    return boto3.client("ecs", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)


def is_task_arn(value: str | None) -> bool:
    """Whether `value` is an ECS task ARN (`arn:<partition>:ecs:<region>:<account>:task/...`)."""
    parts = (value or "").split(":", 5)
    return len(parts) == 6 and parts[2] == "ecs" and parts[5].startswith("task/")


def cluster_of(task_arn: str) -> str | None:
    """The cluster named in a long-format task ARN (`task/<cluster>/<id>`), else None."""
    path = task_arn.split(":", 5)[5].split("/")
    return path[1] if len(path) == 3 else None


class PushCanceller:
    """Stops ECS tasks and launcher executions of cancelled push runs.

    Args:
        settings: `ecs_launcher_arn`, `ecs_cluster_arn` (for short task ARNs), region/endpoint.
        sfn: A Step Functions client; built from `settings` on first use when None.
        ecs: An ECS client; built from `settings` on first use when None.
    """

    def __init__(self, settings: Settings, sfn: Any | None = None, ecs: Any | None = None) -> None:
        self.settings = settings
        self._sfn = sfn
        self._ecs = ecs

    def stop(self, run: FlowRun) -> StopOutcome:
        """Stop the ECS task of `run`, or its execution when no task is recorded."""
        launcher = self.settings.ecs_launcher_arn
        if run.infrastructure is not InfrastructureType.ECS or launcher is None:
            return StopOutcome.NOTHING_TO_DO
        recorded = run.infrastructure_id or ""
        try:
            if is_task_arn(recorded):
                return self._stop_task(recorded)
            if EXECUTION_SEGMENT in recorded:  # the launcher's claim records its execution
                return self._stop_execution(recorded)
            return self._stop_execution(execution_arn(launcher, execution_name(run)))
        except ClientError as exc:
            return _failed(run, exc, exc.response.get("Error", {}).get("Code", ""))
        except (BotoCoreError, ValueError) as exc:
            return _failed(run, exc, "")

    def _stop_task(self, task_arn: str) -> StopOutcome:
        if self._ecs is None:
            self._ecs = ecs_client(self.settings)
        cluster = cluster_of(task_arn) or self.settings.ecs_cluster_arn
        kwargs = {"cluster": cluster} if cluster else {}
        self._ecs.stop_task(task=task_arn, reason=CANCEL_MESSAGE, **kwargs)
        return StopOutcome.TASK_STOPPED

    def _stop_execution(self, arn: str) -> StopOutcome:
        if self._sfn is None:
            self._sfn = sfn_client(self.settings)
        self._sfn.stop_execution(executionArn=arn, cause=CANCEL_MESSAGE)
        return StopOutcome.EXECUTION_STOPPED


def _failed(run: FlowRun, exc: Exception, code: str) -> StopOutcome:
    if code in NOT_FOUND_CODES or (code == "InvalidParameterException" and _not_found(exc)):
        return StopOutcome.GONE
    logger.warning("flow run %s: could not stop its infrastructure (%s): %s", run.id, code, exc)
    return StopOutcome.FAILED


def _not_found(exc: Exception) -> bool:
    """ECS answers StopTask of an unknown task with InvalidParameterException "...not found"."""
    return "not found" in str(exc).lower()


def build_canceller(settings: Settings) -> PushCanceller | None:
    """The canceller of a stack with an ECS launcher (None when there is nothing to stop)."""
    return PushCanceller(settings) if settings.ecs_launcher_arn else None
