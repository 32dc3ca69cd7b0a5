"""Flow-run use cases other than proposals: create (directly or from a deployment), cancel,
heartbeat.

A deployment run of a pushed infrastructure that is due at once is dispatched here (its
launcher execution started) instead of waiting for the next scheduler tick; cancelling a
pushed run stops what runs it (`launchers.cancel`). Neither ever fails the request: a run that
could not be dispatched stays SCHEDULED for the next tick.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from stratoflow.orchestration import Decision, Plan, Proposer, cancel_target, plan_flow_run
from stratoflow.orchestration.cancellation import CANCEL_MESSAGE
from stratoflow.orchestration.plans import run_changes
from stratoflow.schemas import (
    DecisionStatus,
    Deployment,
    DeploymentRunCreate,
    FlowRun,
    FlowRunCreate,
    FlowRunHeartbeat,
    OrchestrationResult,
    State,
    StateName,
    StateProposal,
    StateType,
)
from stratoflow_functions.errors import ConflictError
from stratoflow_functions.services.flow_run_states import propose_flow_run_state
from stratoflow_functions.services.limits import check_parameters
from stratoflow_functions.services.names import run_name
from stratoflow_functions.services.parameter_checks import check_run_parameters
from stratoflow_functions.store import Store

if TYPE_CHECKING:  # the launchers import the store; the services need only their protocols
    from stratoflow_functions.launchers.cancel import RunStopper
    from stratoflow_functions.launchers.dispatcher import RunDispatcher


def create_flow_run(store: Store, data: FlowRunCreate, now: datetime) -> tuple[FlowRun, bool]:
    """Create a run of a flow called directly; a repeated idempotency key returns the first run.

    A RUNNING `state` is a proposal, not a given: the run is made PENDING and RUNNING is planned
    over it by the same rules as `POST /flow-runs/{id}/state` (run count, start time, retry
    policy), and stored as planned in the create's one write. When the rules would not simply
    accept it (a WAIT, an ABORT, slots to take), the run is created PENDING and the caller
    proposes RUNNING as usual (the engine does when the answer's state is not RUNNING).
    """
    check_parameters(data.parameters)
    if data.state is not None and data.state.type is StateType.RUNNING:
        pending = data.model_copy(update={"state": None})
        return store.flow_runs.create(_started(_new_run(store, pending, now), data.state, now))
    return store.flow_runs.create(_new_run(store, data, now))


def _started(run: FlowRun, proposed: State, now: datetime) -> FlowRun:
    """`run` (PENDING, not stored) moved to `proposed` by the rules, or as it was."""
    state = proposed.model_copy(update={"timestamp": now})
    plan = plan_flow_run(run, state, now, retry_policy=run.retry_policy)
    accepted = plan.decision.status is DecisionStatus.ACCEPT
    if plan.run is None or not accepted or plan.take or plan.give_back:
        return run
    return plan.run.model_copy(update={"version": run.version})  # one write: the first version


def _new_run(store: Store, data: FlowRunCreate, now: datetime) -> FlowRun:
    flow = store.flows.get(data.flow_id)
    run_id = uuid4()
    state = data.state or State(type=StateType.PENDING, timestamp=now)
    return FlowRun(
        id=run_id,
        name=data.name or run_name(run_id),
        flow_id=flow.id,
        flow_name=flow.name,
        flow_version=data.flow_version,
        parent_task_run_id=data.parent_task_run_id,
        parameters=data.parameters,
        state=state,
        retry_policy=data.retry_policy,
        idempotency_key=data.idempotency_key,
        tags=data.tags,
        expected_start_time=state.scheduled_time or now,
        created=now,
        updated=now,
    )


def create_deployment_run(
    store: Store,
    deployment_id: UUID,
    data: DeploymentRunCreate,
    now: datetime,
    dispatcher: RunDispatcher | None = None,
) -> tuple[FlowRun, bool]:
    """Schedule a run of a deployment, with parameters merged over the deployment's.

    With a `dispatcher`, a run that is due at `now` (no start time, or one in the past) is
    handed to it at once: a pushed run's execution starts now, not at the next tick. A replay
    of the same idempotency key asks again (the execution's name makes that a no-op).
    """
    deployment = store.deployments.get(deployment_id)
    parameters = {**deployment.parameters, **data.parameters}
    check_parameters(parameters)
    check_run_parameters(deployment, parameters)
    run = scheduled_run_of(
        deployment,
        start=data.scheduled_start_time or now,
        parameters=parameters,
        now=now,
        name=data.name,
        idempotency_key=data.idempotency_key,
        tags=data.tags,
    )
    stored, created = store.flow_runs.create(run)
    if dispatcher is not None and _due(stored, now):
        dispatcher.dispatch(stored)
    return stored, created


def _due(run: FlowRun, now: datetime) -> bool:
    start = run.state.scheduled_time or run.expected_start_time or now
    return run.state.type is StateType.SCHEDULED and start <= now


def scheduled_run_of(
    deployment: Deployment,
    *,
    start: datetime,
    parameters: dict[str, Any],
    now: datetime,
    name: str | None = None,
    idempotency_key: str | None = None,
    tags: list[str] | None = None,
    message: str | None = None,
) -> FlowRun:
    """A SCHEDULED run of `deployment` (manual or from a schedule), not yet stored."""
    run_id = uuid4()
    return FlowRun(
        id=run_id,
        name=name or run_name(run_id),
        flow_id=deployment.flow_id,
        flow_name=deployment.flow_name,
        flow_version=deployment.flow_version,
        deployment_id=deployment.id,
        parameters=parameters,
        state=State(type=StateType.SCHEDULED, timestamp=now, scheduled_time=start, message=message),
        work_queue=deployment.work_queue,
        infrastructure=deployment.infrastructure,
        idempotency_key=idempotency_key,
        tags=sorted(set(deployment.tags) | set(tags or ())),
        expected_start_time=start,
        created=now,
        updated=now,
    )


def cancel_flow_run(
    store: Store, run_id: UUID, now: datetime, stopper: RunStopper | None = None
) -> OrchestrationResult:
    """Cancel a run: not yet started → CANCELLED at once; running → CANCELLING, so the engine or
    its agent stops it and reports CANCELLED.

    With a `stopper`, a run left CANCELLING (by this call or an earlier one: asking again
    retries the stop) has its push infrastructure stopped; its launcher then settles it, or,
    when its execution was stopped (nothing left to settle it), this call makes it CANCELLED.
    """
    run = store.flow_runs.get(run_id).run
    if run.state.is_terminal:
        raise ConflictError(
            f"flow run {run_id} already finished as {run.state.name}", code="run_finished"
        )
    result = _propose_cancel(store, run, now)
    left_cancelling = result.state is not None and result.state.type is StateType.CANCELLING
    if stopper is not None and left_cancelling and stopper.stop(run).ends_run:
        return _cancelled(store, run_id, result.version, now)
    return result


def _cancelled(store: Store, run_id: UUID, version: int, now: datetime) -> OrchestrationResult:
    """CANCELLING -> CANCELLED, once what ran the run was stopped."""
    state = State(type=StateType.CANCELLED, timestamp=now, message=CANCEL_MESSAGE)
    return _propose_at(store, run_id, state, version, now)


def _propose_cancel(store: Store, run: FlowRun, now: datetime) -> OrchestrationResult:
    target = cancel_target(run.state, now)
    if target is None:  # CANCELLING already: the answer is the run as it is
        return OrchestrationResult(
            status=DecisionStatus.ACCEPT, state=run.state, version=run.version
        )
    return _propose_at(store, run.id, target, run.version, now)


def _propose_at(
    store: Store, run_id: UUID, state: State, version: int, now: datetime
) -> OrchestrationResult:
    """Propose `state` as the control plane, only if the run is still at `version`."""
    proposal = StateProposal(state=state, expected_version=version)
    return propose_flow_run_state(store, run_id, proposal, now, proposer=Proposer.CONTROL_PLANE)


def heartbeat_flow_run(
    store: Store, run_id: UUID, data: FlowRunHeartbeat, now: datetime
) -> FlowRun:
    """Record that a run's process is alive; the answer carries its state (CANCELLING, say)."""
    return store.flow_runs.heartbeat(run_id, now, data.infrastructure_id)


RETRYABLE_STATES = frozenset({StateType.FAILED, StateType.CRASHED, StateType.CANCELLED})
"""A finished deployment run in one of these (TimedOut is a FAILED name) may be retried."""


def retry_flow_run(store: Store, run_id: UUID, now: datetime) -> OrchestrationResult:
    """Send a failed, crashed, cancelled or timed-out deployment run back to its work queue:
    SCHEDULED `AwaitingRetry` due now, a forced transition with the kernel's bookkeeping
    (`run_count` kept, `end_time` cleared).

    Raises:
        NotFoundError: No such run.
        ConflictError: `not_retryable` (not a deployment run, or not in a retryable state);
            `version_conflict` when the run moved meanwhile.
    """
    run = store.flow_runs.get(run_id).run
    if run.state.type not in RETRYABLE_STATES or run.deployment_id is None or not run.work_queue:
        raise ConflictError(
            f"flow run {run_id} is {run.state.name or run.state.type.value}"
            f"{'' if run.deployment_id else ' and not a deployment run'}: only failed, crashed,"
            " cancelled or timed-out deployment runs can be retried",
            code="not_retryable",
        )
    state = State(
        type=StateType.SCHEDULED,
        name=StateName.AWAITING_RETRY,
        timestamp=now,
        scheduled_time=now,
        message="Retried by request",
    )
    update, books = run_changes(run.state, run.run_count, run.start_time, state, now)
    update.update(end_time=None, expected_start_time=now, version=run.version + 1)
    retried = run.model_copy(update=update)
    decision = Decision(status=DecisionStatus.ACCEPT, state=state)
    store.flow_runs.apply(Plan(decision=decision, current=run, run=retried, books=books))
    return OrchestrationResult(status=DecisionStatus.ACCEPT, state=state, version=retried.version)
