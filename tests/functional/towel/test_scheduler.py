"""The scheduler through the service, over moto: exact run times, idempotence, bounds, pause,
Late marking."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from stratoflow.schemas import DeploymentRunCreate, StateType
from stratoflow_functions.config import Settings
from stratoflow_functions.scheduling.scheduler_plan import idempotency_key
from stratoflow_functions.services.catalog import set_deployment_paused
from stratoflow_functions.services.flow_runs import create_deployment_run
from stratoflow_functions.services.towel import SchedulerLimits, schedule_runs
from stratoflow_functions.store import Store, build_store
from tests.functional.towel.towel_support import (
    cheap_moto_transaction_snapshots,
    cron,
    deploy,
    every,
    runs_of,
    start_times,
)
from tests.support import FakeClock, make_moto_dynamodb_atomic


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_berlin_cron_on_spring_forward_day_runs_once_at_the_first_valid_instant(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    clock.now = utc(2026, 3, 27, 12)
    deployment = deploy(store, clock.now, schedules=[cron("0 2 * * *", "Europe/Berlin")])

    report = schedule_runs(store, settings, clock.now)

    assert start_times(runs_of(store, deployment.id)) == [
        utc(2026, 3, 28, 1),  # 02:00 CET
        utc(2026, 3, 29, 1),  # 02:00 does not exist: 03:00 CEST
        utc(2026, 3, 30, 0),  # 02:00 CEST from here on
        utc(2026, 3, 31, 0),
        utc(2026, 4, 1, 0),
        utc(2026, 4, 2, 0),
        utc(2026, 4, 3, 0),
    ]
    assert report.runs_created == 7


def test_berlin_cron_on_fall_back_day_runs_once_at_the_first_occurrence(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    clock.now = utc(2026, 10, 23, 12)
    deployment = deploy(store, clock.now, schedules=[cron("0 2 * * *", "Europe/Berlin")])

    schedule_runs(store, settings, clock.now)

    assert start_times(runs_of(store, deployment.id)) == [
        utc(2026, 10, 24, 0),  # 02:00 CEST
        utc(2026, 10, 25, 0),  # the first 02:00 (CEST); the repeated one (CET) is skipped
        utc(2026, 10, 26, 1),  # 02:00 CET from here on
        utc(2026, 10, 27, 1),
        utc(2026, 10, 28, 1),
        utc(2026, 10, 29, 1),
        utc(2026, 10, 30, 1),
    ]


def test_created_runs_carry_key_queue_infrastructure_and_merged_parameters(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    entry = every(86_400, parameters={"day": "today", "dry_run": True})
    deployment = deploy(
        store, clock.now, schedules=[entry], parameters={"day": "x", "limit": 5}, work_queue="etl"
    )

    schedule_runs(store, settings, clock.now)

    run = min(runs_of(store, deployment.id), key=lambda r: r.expected_start_time or r.created)
    start = utc(2026, 3, 2)
    schedule_id = deployment.schedules[0].id
    assert run.idempotency_key == idempotency_key(deployment.id, schedule_id, start)
    assert run.parameters == {"day": "today", "dry_run": True, "limit": 5}
    assert (run.work_queue, run.infrastructure) == ("etl", deployment.infrastructure)
    assert (run.state.type, run.state.scheduled_time) == (StateType.SCHEDULED, start)


def test_a_second_tick_creates_nothing_new_and_the_window_rolls_forward(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    deployment = deploy(store, clock.now, schedules=[every(86_400)])
    first = schedule_runs(store, settings, clock.now)
    again = schedule_runs(store, settings, clock.now)
    clock.advance(86_400)
    rolled = schedule_runs(store, settings, clock.now)

    assert (first.runs_created, again.runs_created, rolled.runs_created) == (7, 0, 1)
    times = start_times(runs_of(store, deployment.id))
    assert times == [utc(2026, 3, 2) + timedelta(days=n) for n in range(8)]


def test_two_invocations_at_once_create_each_run_exactly_once(
    store: Store, settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_moto_dynamodb_atomic()
    cheap_moto_transaction_snapshots(monkeypatch)
    deployments = [deploy(store, clock.now, f"d{n}", [every(3600)]) for n in range(5)]
    reports = []
    barrier = threading.Barrier(2)

    def tick() -> None:
        own_store = build_store(settings, clock=clock)
        barrier.wait()
        reports.append(schedule_runs(own_store, settings, clock.now))

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(reports) == 2
    for deployment in deployments:
        runs = runs_of(store, deployment.id)
        assert len(runs) == 100  # hourly for 7 days, capped at max_runs
        assert len({r.idempotency_key for r in runs}) == 100
        assert len(set(start_times(runs))) == 100
    assert sum(r.runs_created for r in reports) == 500


def test_many_deployments_are_scheduled_in_bounded_invocations_without_gaps(
    store: Store, settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 300 deployments over limits of 120 deployments / 270 runs an invocation: the same shape as
    # a thousand over 400 / 900 (several invocations, each stopped by a limit, then a wrap),
    # at under a third of the emulator's time.
    cheap_moto_transaction_snapshots(monkeypatch)
    settings = replace(settings, scheduler_horizon_days=1)
    deployments = [deploy(store, clock.now, f"d{n:04d}", [every(86_400)]) for n in range(300)]
    limits = SchedulerLimits(deployments=120, runs_created=270)
    reports = []
    while not (reports and reports[-1].wrapped and reports[-1].runs_created == 0):
        reports.append(schedule_runs(store, settings, clock.now, limits=limits))
        assert len(reports) < 20

    assert all(r.runs_created <= 270 and r.deployments <= 120 for r in reports)
    assert len(reports) > 3  # the work really was spread over several invocations
    assert sum(r.runs_created for r in reports) == 900
    per_deployment = Counter(str(r.deployment_id) for r in _all_runs(store, deployments))
    assert set(per_deployment.values()) == {3}
    sample = deployments[::29]
    for deployment in sample:
        assert start_times(runs_of(store, deployment.id)) == [
            utc(2026, 3, 2),
            utc(2026, 3, 3),
            utc(2026, 3, 4),
        ]


def _all_runs(store: Store, deployments: list) -> list:  # type: ignore[type-arg]
    from stratoflow.schemas import FlowRunFilter

    runs = []
    token = None
    while True:
        page = store.flow_runs.list(FlowRunFilter(), 1000, token)
        runs.extend(page.items)
        token = page.next_token
        if token is None:
            return runs


def test_pausing_removes_future_auto_scheduled_runs_but_keeps_manual_runs(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    deployment = deploy(store, clock.now, schedules=[every(3600)])
    manual, _ = create_deployment_run(
        store,
        deployment.id,
        DeploymentRunCreate(scheduled_start_time=clock.now + timedelta(hours=5)),
        clock.now,
    )
    schedule_runs(store, settings, clock.now)
    clock.advance(60)
    set_deployment_paused(store, deployment.id, True, clock.now)

    report = schedule_runs(store, settings, clock.now)

    assert report.runs_deleted == 100
    assert [r.id for r in runs_of(store, deployment.id)] == [manual.id]


def test_resuming_recreates_the_removed_runs_with_the_same_keys(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    deployment = deploy(store, clock.now, schedules=[every(86_400)])
    schedule_runs(store, settings, clock.now)
    keys_before = {r.idempotency_key for r in runs_of(store, deployment.id)}
    set_deployment_paused(store, deployment.id, True, clock.now)
    schedule_runs(store, settings, clock.now)
    set_deployment_paused(store, deployment.id, False, clock.now)

    report = schedule_runs(store, settings, clock.now)

    assert report.runs_created == 7
    assert {r.idempotency_key for r in runs_of(store, deployment.id)} == keys_before


def test_replacing_a_schedule_removes_the_old_schedules_runs_only(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    deployment = deploy(store, clock.now, schedules=[every(86_400)])
    schedule_runs(store, settings, clock.now)
    clock.advance(60)
    updated = deploy(store, clock.now, schedules=[every(43_200)])

    report = schedule_runs(store, settings, clock.now)

    new_id = str(updated.schedules[0].id)
    runs = runs_of(store, deployment.id)
    assert report.runs_deleted == 7
    assert runs
    assert all(new_id in (r.idempotency_key or "") for r in runs)


def test_a_run_created_by_a_tick_that_raced_the_pause_is_removed_next_tick(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    deployment = deploy(store, clock.now, schedules=[every(86_400)])
    stale_view = store.deployments.get(deployment.id)
    set_deployment_paused(store, deployment.id, True, clock.now)
    schedule_runs(store, settings, clock.now)  # sweeps (nothing yet) and marks
    from stratoflow_functions.scheduling.scheduler_plan import plan_runs
    from stratoflow_functions.services.towel.scheduler import _create

    for planned in plan_runs(stale_view, clock.now):
        _create(store, stale_view, planned, clock.now)  # the slow rival that read "unpaused"
    assert len(runs_of(store, deployment.id)) == 7
    clock.advance(60)

    schedule_runs(store, settings, clock.now)

    assert runs_of(store, deployment.id) == []


def test_scheduled_runs_more_than_late_after_seconds_past_are_marked_late(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    deployment = deploy(store, clock.now, schedules=[every(3600)])
    schedule_runs(store, settings, clock.now)
    clock.now = utc(2026, 3, 1, 13, 0, 15)
    at_grace = schedule_runs(store, settings, clock.now)
    clock.advance(1)

    late = schedule_runs(store, settings, clock.now)
    again = schedule_runs(store, settings, clock.now)

    runs = {r.expected_start_time: r for r in runs_of(store, deployment.id)}
    marked = runs[utc(2026, 3, 1, 13)]
    assert (at_grace.late_runs_marked, late.late_runs_marked, again.late_runs_marked) == (0, 1, 0)
    assert (marked.state.type, marked.state.name) == (StateType.SCHEDULED, "Late")
    assert marked.state.scheduled_time == utc(2026, 3, 1, 13)
    assert runs[utc(2026, 3, 1, 14)].state.name == "Scheduled"
