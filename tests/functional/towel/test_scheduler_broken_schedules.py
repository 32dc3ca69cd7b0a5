"""One bad schedule must not stop the scheduler for everyone (issue 8, section 4).

Broken schedules are written straight to the store (as data stored before validation existed,
or by an older version, would be), named so they are walked before the healthy deployments.
One tick plans every healthy deployment, returns within a bound, and reports, logs and counts
each failure; the next tick does the same without creating anything twice.
"""

from __future__ import annotations

import logging
import time

import pytest

from stratoflow.schemas import (
    CronSchedule,
    Deployment,
    DeploymentCreate,
    DeploymentScheduleCreate,
    FlowCreate,
    RRuleSchedule,
)
from stratoflow_functions.config import Settings
from stratoflow_functions.services.catalog import register_flow
from stratoflow_functions.services.towel import SchedulerLimits, schedule_runs
from stratoflow_functions.store import Store
from tests.functional.towel.towel_support import (
    cheap_moto_transaction_snapshots,
    cron,
    deploy,
    every,
    runs_of,
)
from tests.support import FakeClock

SECRET = "s3cr3t-token"
# name → (rrule, reason the tick reports); each broke or wedged the tick before the fix.
BROKEN_RRULES = {
    "a2-interval-zero": ("FREQ=DAILY;INTERVAL=0", "invalid"),  # the tick never returned
    "a3-feb-30": ("FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30", "never_fires"),  # > 8 s
    "a4-huge-count": ("FREQ=SECONDLY;COUNT=1000000000", "over_budget"),  # > 8 s
    "a5-spins": ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;BYYEARDAY=60", "over_budget"),  # 8.6 s
    "a6-all-excluded": ("RRULE:FREQ=DAILY\nEXRULE:FREQ=DAILY", "over_budget"),  # forever
    "a7-floating-until": (
        "DTSTART:20260101T000000\nRRULE:FREQ=DAILY;UNTIL=20270101T000000",
        "invalid",
    ),
}
# Four over-budget schedules at the planning budget's 200 ms each, plus moto's writes.
TICK_BOUND_SECONDS = 10.0


def stored(
    store: Store, clock: FakeClock, name: str, *schedules: DeploymentScheduleCreate
) -> Deployment:
    """A deployment written by the store directly: no schedule validation."""
    flow, _ = register_flow(store, FlowCreate(name="etl"), clock.now)
    data = DeploymentCreate(
        flow_id=flow.id, name=name, entrypoint="flows/etl.py:etl", schedules=list(schedules)
    )
    deployment, _ = store.deployments.upsert(data, flow, clock.now)
    return deployment


def rrule(text: str) -> DeploymentScheduleCreate:
    return DeploymentScheduleCreate(
        schedule=RRuleSchedule(rrule=text), parameters={"token": SECRET}
    )


@pytest.fixture
def broken(store: Store, clock: FakeClock) -> dict[str, Deployment]:
    return {
        name: stored(store, clock, name, rrule(text)) for name, (text, _) in BROKEN_RRULES.items()
    }


@pytest.mark.timeout(120)
def test_one_tick_plans_the_healthy_deployments_and_reports_each_broken_schedule(
    store: Store,
    settings: Settings,
    clock: FakeClock,
    broken: dict[str, Deployment],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cheap_moto_transaction_snapshots(monkeypatch)
    was_a_type_error = stored(
        store, clock, "a1-floating-exdate", rrule("RRULE:FREQ=DAILY\nEXDATE:20200101T000000")
    )
    never_cron = stored(
        store,
        clock,
        "a8-cron-feb-30",
        DeploymentScheduleCreate(schedule=CronSchedule(cron="0 0 30 2 *")),
    )
    mixed = stored(store, clock, "m-mixed", rrule("FREQ=DAILY;INTERVAL=0"), cron("0 6 * * *"))
    hourly = deploy(store, clock.now, name="z-hourly", schedules=[every(3600)])
    daily = deploy(
        store, clock.now, name="z-daily", schedules=[cron("30 2 * * *", "Europe/Berlin")]
    )
    caplog.set_level(logging.WARNING, logger="stratoflow_functions.services.towel.scheduler")

    started = time.monotonic()
    report = schedule_runs(store, settings, clock.now)
    elapsed = time.monotonic() - started

    assert elapsed < TICK_BOUND_SECONDS
    assert report.deployments == len(BROKEN_RRULES) + 5
    assert len(runs_of(store, hourly.id)) == 100  # max_runs within the 7-day horizon
    assert len(runs_of(store, daily.id)) == 7
    assert len(runs_of(store, mixed.id)) == 7  # its healthy schedule still runs
    assert len(runs_of(store, was_a_type_error.id)) == 7  # floating EXDATE: fixed, not skipped
    assert runs_of(store, never_cron.id) == []
    failed = {(f.deployment_id, f.reason) for f in report.failed_schedules}
    assert failed == {(broken[n].id, reason) for n, (_, reason) in BROKEN_RRULES.items()} | {
        (mixed.id, "invalid")
    }
    assert report.schedules_failed == len(BROKEN_RRULES) + 1
    assert report.metrics()["ScheduleFailures"] == report.schedules_failed
    for deployment in broken.values():
        assert str(deployment.id) in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in repr(report)


@pytest.mark.timeout(120)
def test_the_next_tick_reports_them_again_and_creates_nothing_twice(
    store: Store, settings: Settings, clock: FakeClock, broken: dict[str, Deployment]
) -> None:
    healthy = deploy(store, clock.now, name="z-daily", schedules=[cron("0 6 * * *")])
    first = schedule_runs(store, settings, clock.now)
    clock.advance(60)

    second = schedule_runs(store, settings, clock.now)

    assert first.runs_created == 7
    assert second.runs_created == 0
    assert second.schedules_failed == first.schedules_failed == len(BROKEN_RRULES)
    assert len(runs_of(store, healthy.id)) == 7


def test_the_walk_stops_between_pages_when_its_time_is_up_and_goes_on_next_tick(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    names = ["one", "two", "three"]
    deployments = [deploy(store, clock.now, name=n, schedules=[cron("0 6 * * *")]) for n in names]
    limits = SchedulerLimits(page_size=1, walk_seconds=0)

    reports = [schedule_runs(store, settings, clock.now, limits=limits) for _ in names]

    assert [r.deployments for r in reports] == [1, 1, 1]  # one page each, none redone
    assert [r.out_of_time for r in reports[:2]] == [True, True]
    assert all(len(runs_of(store, d.id)) == 7 for d in deployments)
    assert sum(r.runs_created for r in reports) == 21


def test_a_healthy_deployment_is_planned_whatever_the_clock_says_of_the_broken_one(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    stored(store, clock, "a-spins", rrule(BROKEN_RRULES["a5-spins"][0]))
    healthy = deploy(store, clock.now, name="z-daily", schedules=[cron("0 6 * * *")])
    ticks = iter(range(10**9))

    report = schedule_runs(store, settings, clock.now, budget_clock=lambda: next(ticks) * 1e-6)

    assert report.schedules_failed == 1
    assert (
        "more than the planning budget of 20,000 steps / 200 ms"
        in report.failed_schedules[0].message
    )
    assert len(runs_of(store, healthy.id)) == 7
