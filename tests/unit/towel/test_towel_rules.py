"""Pure decisions of the Towel services: which runs a sweep removes and when it sweeps (what a
zombie becomes is the flow policy's: tests/unit/orchestration/test_orchestration_crash_retries.py).
No AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from stratoflow.schemas import (
    Deployment,
    DeploymentSchedule,
    FlowRun,
    IntervalSchedule,
    State,
    StateType,
)
from stratoflow_functions.scheduling.scheduler_plan import idempotency_key
from stratoflow_functions.services.towel.sweep import (
    RACE_WINDOW,
    is_unwanted,
    plan_sweep,
    schedule_id_of,
)
from stratoflow_functions.store.towel import SweepMark

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _deployment(paused: bool = False, active: bool = True, updated: datetime = NOW) -> Deployment:
    schedule = DeploymentSchedule(schedule=IntervalSchedule(interval_seconds=60), active=active)
    return Deployment(
        id=uuid4(),
        flow_id=uuid4(),
        flow_name="etl",
        name="nightly",
        entrypoint="f.py:f",
        schedules=[schedule],
        paused=paused,
        created=NOW,
        updated=updated,
    )


def _run(
    deployment: Deployment, key: str | None, name: str = "Scheduled", runs: int = 0
) -> FlowRun:
    return FlowRun(
        id=uuid4(),
        name="r",
        flow_id=deployment.flow_id,
        deployment_id=deployment.id,
        state=State(type=StateType.SCHEDULED, name=name, timestamp=NOW, scheduled_time=NOW),
        idempotency_key=key,
        run_count=runs,
        created=NOW,
        updated=NOW,
    )


def _auto_key(deployment: Deployment) -> str:
    return idempotency_key(deployment.id, deployment.schedules[0].id, NOW + timedelta(hours=1))


def test_schedule_id_is_read_back_from_an_auto_scheduled_key() -> None:
    deployment = _deployment()
    assert schedule_id_of(_auto_key(deployment)) == deployment.schedules[0].id
    assert schedule_id_of("manual-key") is None
    assert schedule_id_of("scheduled:a:not-a-uuid:2026") is None


def test_a_paused_deployment_sweeps_auto_runs_but_never_manual_runs_or_retries() -> None:
    deployment = _deployment(paused=True)
    assert is_unwanted(_run(deployment, _auto_key(deployment)), deployment)
    assert is_unwanted(_run(deployment, _auto_key(deployment), "Late"), deployment)
    assert not is_unwanted(_run(deployment, None), deployment)
    assert not is_unwanted(_run(deployment, "from-the-cli"), deployment)
    assert not is_unwanted(_run(deployment, _auto_key(deployment), "AwaitingRetry", 1), deployment)


def test_an_active_schedules_runs_stay_and_an_inactive_ones_go() -> None:
    active = _deployment()
    inactive = active.model_copy(
        update={"schedules": [active.schedules[0].model_copy(update={"active": False})]}
    )
    assert not is_unwanted(_run(active, _auto_key(active)), active)
    assert is_unwanted(_run(active, _auto_key(active)), inactive)


def test_sweeps_happen_after_a_change_then_briefly_then_not_at_all() -> None:
    changed = _deployment(updated=NOW + timedelta(minutes=1))
    mark = SweepMark(deployment_updated=changed.updated, swept_at=NOW)
    assert plan_sweep(_deployment(), None, NOW) is None  # never changed since creation
    full = plan_sweep(changed, None, NOW)
    assert full is not None
    assert full.full
    recent = plan_sweep(changed, mark, NOW + timedelta(minutes=1))
    assert recent is not None
    assert recent.created_after == NOW - RACE_WINDOW
    assert plan_sweep(changed, mark, NOW + RACE_WINDOW + timedelta(seconds=1)) is None
