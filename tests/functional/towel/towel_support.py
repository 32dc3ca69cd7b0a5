"""Helpers for the Towel tests: flows, deployments and runs in any state, made through the real
services and store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from stratoflow.schemas import (
    CronSchedule,
    Deployment,
    DeploymentCreate,
    DeploymentScheduleCreate,
    FlowCreate,
    FlowRun,
    FlowRunFilter,
    IntervalSchedule,
    RetryPolicy,
    State,
    StateType,
    TaskRun,
)
from stratoflow_functions.services.catalog import register_flow, upsert_deployment
from stratoflow_functions.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def every(seconds: float, **kw: Any) -> DeploymentScheduleCreate:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    return DeploymentScheduleCreate(
        schedule=IntervalSchedule(interval_seconds=seconds, anchor_date=anchor), **kw
    )


def cron(expression: str, timezone: str = "UTC") -> DeploymentScheduleCreate:
    return DeploymentScheduleCreate(schedule=CronSchedule(cron=expression, timezone=timezone))


def deploy(
    store: Store,
    now: datetime,
    name: str = "nightly",
    schedules: list[DeploymentScheduleCreate] | None = None,
    flow: str = "etl",
    **fields: Any,
) -> Deployment:
    flow_obj, _ = register_flow(store, FlowCreate(name=flow), now)
    data = DeploymentCreate(
        flow_id=flow_obj.id,
        name=name,
        entrypoint="flows/etl.py:etl",
        schedules=schedules if schedules is not None else [every(3600)],
        **fields,
    )
    deployment, _ = upsert_deployment(store, data, now)
    return deployment


def runs_of(store: Store, deployment_id: UUID) -> list[FlowRun]:
    found: list[FlowRun] = []
    token: str | None = None
    while True:
        page = store.flow_runs.list(FlowRunFilter(deployment_id=deployment_id), 100, token)
        found.extend(page.items)
        token = page.next_token
        if token is None:
            return found


def start_times(runs: list[FlowRun]) -> list[datetime]:
    return sorted(r.expected_start_time for r in runs if r.expected_start_time is not None)


def live_run(
    store: Store,
    now: datetime,
    state_type: StateType = StateType.RUNNING,
    *,
    retries: int = 0,
    run_count: int = 1,
    work_queue: str | None = "default",
    resurrections: int = 0,
    heartbeat: datetime | None = None,
) -> FlowRun:
    run = FlowRun(
        id=uuid4(),
        name="zombie-candidate",
        flow_id=uuid4(),
        flow_name="etl",
        state=State(type=state_type, timestamp=now),
        run_count=run_count,
        retry_policy=RetryPolicy(retries=retries, retry_delay_seconds=[30]),
        resurrections=resurrections,
        work_queue=work_queue,
        heartbeat=heartbeat or now,
        created=now,
        updated=now,
    )
    store.flow_runs.create(run)
    return run


def task_run(store: Store, flow_run_id: UUID, now: datetime, state_type: StateType) -> TaskRun:
    run = TaskRun(
        id=uuid4(),
        flow_run_id=flow_run_id,
        task_key="extract",
        name="extract-0",
        state=State(type=state_type, timestamp=now),
        run_count=1 if state_type is StateType.RUNNING else 0,
        created=now,
        updated=now,
    )
    store.task_runs.create(run)
    return run


def cheap_moto_transaction_snapshots(monkeypatch: Any) -> None:
    """Use the local stack's emulator fix: moto's transactions copy only the items they touch.

    moto deep-copies the whole table before every TransactWriteItems, so thousands of creates
    in one test grow quadratically. The fix is process-wide once installed (the local stack's
    emulator installs it too); `monkeypatch` is kept in the signature for the callers.
    """
    from stratoflow_functions.local.moto_transactions import make_moto_transactions_cheap

    make_moto_transactions_cheap()
