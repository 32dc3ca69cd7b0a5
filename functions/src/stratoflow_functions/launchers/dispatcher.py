"""The push dispatcher: one Step Functions execution per due run of a pushed infrastructure.

The scheduler calls `dispatch_due` every tick; `POST /deployments/{id}/runs` calls `dispatch`
for a run due at once. Both start `StartExecution(name=execution_name(run))` on the run's
launcher, so starting is idempotent by construction: Step Functions keeps one execution per
name, and any number of dispatchers racing for a run start it once. The launcher's Claim step
moves the run out of SCHEDULED; until then, each tick asks again and Step Functions answers
with the execution that exists (counted as not started by this call, see `_outcome`).

A failure to start one run is logged with its id and never stops the others: the run stays
SCHEDULED and the next tick tries again.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from stratoflow.schemas import FlowRun, utcnow
from stratoflow_functions.config import Settings
from stratoflow_functions.launchers.names import execution_arn, execution_name
from stratoflow_functions.store import Store

logger = logging.getLogger(__name__)

ALREADY_EXISTS = "ExecutionAlreadyExists"
REDISPATCHES = 3
"""How many more executions a run may get after one ended without claiming it (a launcher
Lambda that kept failing): `<name>-d2` ... `-d4`, then it waits for Lazarus or an operator."""
ENDED_WITHOUT_A_RUN = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
LOOKAHEAD = 4
"""Due runs read per run a tick may start (see `_dispatch_queue`)."""


class DispatchOutcome(StrEnum):
    """What one `dispatch` did."""

    STARTED = "started"
    """This call started the run's execution."""
    ALREADY_STARTED = "already_started"
    """The run's execution existed already (a rival dispatcher, an earlier tick)."""
    FAILED = "failed"
    """Step Functions refused or could not be reached (logged; the next tick tries again)."""
    NOT_PUSHED = "not_pushed"
    """The run's infrastructure has no launcher on this stack (a pull agent runs it)."""


class RunDispatcher(Protocol):
    """Starts the launcher execution of one run (the API's side of dispatch)."""

    def dispatch(self, run: FlowRun) -> DispatchOutcome:
        """Start `run`'s execution; never raises for a Step Functions error."""
        ...


def sfn_client(settings: Settings) -> Any:
    """A Step Functions client for these settings (the emulator's in the local stack)."""
    import boto3

    return boto3.client(
        "stepfunctions", region_name=settings.region, endpoint_url=settings.aws_endpoint_url
    )


class StepFunctionsDispatcher:
    """Starts launcher executions for due runs (the scheduler's `Dispatcher`, and the API's).

    Args:
        store: Where due runs are listed.
        settings: The launcher ARNs (`launcher_arn`, `pushed`), `dispatch_per_tick`,
            `launcher_poll_seconds`.
        client: A Step Functions client; built from `settings` on first use when None.
    """

    def __init__(self, store: Store, settings: Settings, client: Any | None = None) -> None:
        self.store = store
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        """The Step Functions client (built on first use: most API requests never need it)."""
        if self._client is None:
            self._client = sfn_client(self.settings)
        return self._client

    def dispatch_due(self, now: datetime) -> int:
        """Start the executions of runs due at `now`, at most `dispatch_per_tick` of them.

        Each work queue gets an even share of the bound (so one full queue never starves the
        others); the oldest runs of each go first.

        Returns:
            How many executions this call started (existing ones are not counted).
        """
        if not self.settings.pushed:
            return 0
        queues = sorted(self.store.work_queues.names())
        room = self.settings.dispatch_per_tick
        share = math.ceil(room / len(queues)) if queues else 0
        started = 0
        for queue in queues:
            quota = min(share, room - started)
            if quota <= 0:
                break
            started += self._dispatch_queue(queue, now, quota)
        return started

    def _dispatch_queue(self, queue: str, now: datetime, quota: int) -> int:
        """Start up to `quota` due runs of `queue`, looking past those already started.

        A run stays SCHEDULED, and due, from its start until its launcher claims it (at once,
        or after a wait for a concurrency slot), so the oldest due runs may all have their
        execution already: `LOOKAHEAD` times the quota are read, to start newer ones too.
        """
        pushed = list(self.settings.pushed)
        due = self.store.flow_runs.due(queue, now, quota * LOOKAHEAD, infrastructure=pushed)
        started = 0
        for run in due:
            if started >= quota:
                break
            started += self.dispatch(run) is DispatchOutcome.STARTED
        return started

    def dispatch(self, run: FlowRun) -> DispatchOutcome:
        """Start `run`'s launcher execution, named `execution_name(run)`; when that one ended
        failed without launching the run (still due), the next of up to `REDISPATCHES` more
        names (every dispatcher asks for the same names in the same order: still one each).

        Errors are logged with the run id and answered as FAILED, never raised.
        """
        arn = self.settings.launcher_arn(run.infrastructure) if run.infrastructure else None
        if arn is None:
            return DispatchOutcome.NOT_PUSHED
        names = [execution_name(run)]
        names += [f"{names[0]}-d{attempt}" for attempt in range(2, REDISPATCHES + 2)]
        for name in names:
            outcome = self._start(arn, name, run)
            if outcome is not DispatchOutcome.ALREADY_STARTED or not self._ended_badly(arn, name):
                return outcome
        logger.warning("flow run %s: %d executions ended without it", run.id, len(names))
        return DispatchOutcome.ALREADY_STARTED

    def _ended_badly(self, arn: str, name: str) -> bool:
        """Whether the execution `name` ended failed, timed out or aborted: the run is still
        SCHEDULED (it is listed as due), so that execution never launched it."""
        try:
            found = self.client.describe_execution(executionArn=execution_arn(arn, name))
        except (ClientError, BotoCoreError):
            return False  # not known to have failed: leave it be
        return found.get("status") in ENDED_WITHOUT_A_RUN

    def _start(self, arn: str, name: str, run: FlowRun) -> DispatchOutcome:
        """One StartExecution of `run`'s launcher named `name`."""
        payload = {"flow_run_id": str(run.id), "poll_seconds": self.settings.launcher_poll_seconds}
        asked = _millisecond_floor(utcnow())
        try:
            answer = self.client.start_execution(
                stateMachineArn=arn, name=name, input=json.dumps(payload)
            )
        except ClientError as exc:
            return _refused(run, name, exc)
        except BotoCoreError as exc:  # no answer at all: endpoint, credentials, timeout
            logger.warning("flow run %s: execution %s not started: %s", run.id, name, exc)
            return DispatchOutcome.FAILED
        return _outcome(answer, asked)


def _outcome(answer: dict[str, Any], asked: datetime) -> DispatchOutcome:
    """STARTED unless Step Functions answered with an execution that began before the call.

    Step Functions answers a StartExecution with the name and input of a RUNNING execution
    with that execution (no error): one that started before this call was asked is not ours.
    Two calls in flight at the same moment may both count it (the execution exists once).
    """
    began = answer.get("startDate")
    if isinstance(began, datetime) and began.astimezone(UTC) < asked:
        return DispatchOutcome.ALREADY_STARTED
    return DispatchOutcome.STARTED


def _refused(run: FlowRun, name: str, exc: ClientError) -> DispatchOutcome:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == ALREADY_EXISTS:  # ended, or started with other input: this run's attempt exists
        return DispatchOutcome.ALREADY_STARTED
    logger.warning("flow run %s: execution %s not started (%s): %s", run.id, name, code, exc)
    return DispatchOutcome.FAILED


def _millisecond_floor(moment: datetime) -> datetime:
    """`moment` to Step Functions' precision, so an execution started by the call is never
    earlier than the moment it was asked."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def build_dispatcher(store: Store, settings: Settings) -> StepFunctionsDispatcher | None:
    """The dispatcher of a stack with launchers (None when nothing is pushed)."""
    return StepFunctionsDispatcher(store, settings) if settings.pushed else None
