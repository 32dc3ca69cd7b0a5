"""The scheduler's plan: bounds, parameters, paused/inactive, idempotency keys, lateness."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stratoflow.schemas.flows import CronSchedule, IntervalSchedule, RRuleSchedule
from stratoflow_functions.scheduling.schedule_budget import ScheduleError
from stratoflow_functions.scheduling.scheduler_plan import (
    PlannedRun,
    ScheduleFailure,
    idempotency_key,
    is_late,
    plan_deployment,
    plan_runs,
)
from tests.unit.scheduling.scheduling_support import (
    DEPLOYMENT_ID,
    OTHER_SCHEDULE_ID,
    SCHEDULE_ID,
    deployment,
    entry,
    utc,
)

NOW = utc(2024, 5, 1, 12, 0, 30)
HOURLY = CronSchedule(cron="0 * * * *")
DAILY = CronSchedule(cron="0 6 * * *")
YEARLY = CronSchedule(cron="0 0 1 1 *")


def test_idempotency_key_is_deployment_schedule_and_utc_start_with_z() -> None:
    key = idempotency_key(DEPLOYMENT_ID, SCHEDULE_ID, utc(2024, 3, 31, 1))

    assert key == f"scheduled:{DEPLOYMENT_ID}:{SCHEDULE_ID}:2024-03-31T01:00:00Z"


def test_idempotency_key_is_the_same_for_the_same_instant_in_any_zone() -> None:
    berlin = datetime(2024, 3, 31, 3, tzinfo=ZoneInfo("Europe/Berlin"))

    assert idempotency_key(DEPLOYMENT_ID, SCHEDULE_ID, berlin) == idempotency_key(
        str(DEPLOYMENT_ID), str(SCHEDULE_ID), utc(2024, 3, 31, 1)
    )


def test_idempotency_key_rejects_a_naive_start() -> None:
    with pytest.raises(ValueError, match="start must be a timezone-aware datetime"):
        idempotency_key(DEPLOYMENT_ID, SCHEDULE_ID, datetime(2024, 3, 31, 1))


def test_plan_fills_the_horizon() -> None:
    runs = plan_runs(deployment(entry(DAILY)), NOW)

    assert [run.start for run in runs] == [utc(2024, 5, day, 6) for day in range(2, 9)]


def test_plan_is_capped_at_max_runs_per_schedule() -> None:
    runs = plan_runs(deployment(entry(HOURLY)), NOW, max_runs=100)

    assert len(runs) == 100
    assert runs[0].start == utc(2024, 5, 1, 13)
    assert runs[-1].start == utc(2024, 5, 5, 16)


def test_plan_stops_at_a_short_horizon() -> None:
    runs = plan_runs(deployment(entry(HOURLY)), NOW, horizon=timedelta(hours=5))

    assert [run.start for run in runs] == [utc(2024, 5, 1, h) for h in range(13, 18)]


def test_plan_reaches_past_the_horizon_for_min_runs() -> None:
    runs = plan_runs(deployment(entry(YEARLY)), NOW, min_runs=3)

    assert [run.start for run in runs] == [utc(2025, 1, 1), utc(2026, 1, 1), utc(2027, 1, 1)]


def test_plan_of_an_exhausted_rule_is_empty() -> None:
    finished = RRuleSchedule(rrule="DTSTART:20240101T000000\nRRULE:FREQ=DAILY;COUNT=2")

    assert plan_runs(deployment(entry(finished)), NOW) == []


def test_plan_merges_schedule_parameters_over_the_deployments() -> None:
    plan = deployment(
        entry(DAILY, parameters={"day": "today", "dry_run": True}),
        parameters={"day": "yesterday", "limit": 10},
    )

    runs = plan_runs(plan, NOW, max_runs=1, min_runs=1)

    assert runs[0].parameters == {"day": "today", "dry_run": True, "limit": 10}


def test_planned_parameters_are_a_private_copy() -> None:
    plan = deployment(entry(DAILY), parameters={"tables": ["a"]})

    runs = plan_runs(plan, NOW, max_runs=2, min_runs=2)
    runs[0].parameters["tables"].append("b")

    assert plan.parameters == {"tables": ["a"]}
    assert runs[1].parameters == {"tables": ["a"]}


def test_paused_deployment_plans_nothing() -> None:
    assert plan_runs(deployment(entry(DAILY), paused=True), NOW) == []


def test_inactive_schedule_plans_nothing_while_active_ones_still_plan() -> None:
    plan = deployment(
        entry(HOURLY, active=False),
        entry(DAILY, schedule_id=OTHER_SCHEDULE_ID),
    )

    runs = plan_runs(plan, NOW)

    assert {run.schedule_id for run in runs} == {OTHER_SCHEDULE_ID}
    assert len(runs) == 7


def test_each_schedule_gets_its_own_runs_and_keys() -> None:
    plan = deployment(
        entry(DAILY),
        entry(IntervalSchedule(interval_seconds=86_400), schedule_id=OTHER_SCHEDULE_ID),
    )

    runs = plan_runs(plan, NOW, max_runs=2, min_runs=2)

    assert [(run.schedule_id, run.start) for run in runs] == [
        (SCHEDULE_ID, utc(2024, 5, 2, 6)),
        (SCHEDULE_ID, utc(2024, 5, 3, 6)),
        (OTHER_SCHEDULE_ID, utc(2024, 5, 2)),
        (OTHER_SCHEDULE_ID, utc(2024, 5, 3)),
    ]
    assert len({run.idempotency_key for run in runs}) == 4


def test_planned_run_carries_key_and_name() -> None:
    run = plan_runs(deployment(entry(DAILY)), NOW, max_runs=1, min_runs=1)[0]

    assert run == PlannedRun(
        deployment_id=DEPLOYMENT_ID,
        schedule_id=SCHEDULE_ID,
        start=utc(2024, 5, 2, 6),
        parameters={},
        idempotency_key=f"scheduled:{DEPLOYMENT_ID}:{SCHEDULE_ID}:2024-05-02T06:00:00Z",
        name="nightly-20240502-060000",
    )
    with pytest.raises(FrozenInstanceError):
        run.name = "other"  # type: ignore[misc]


def test_plans_are_identical_across_calls() -> None:
    plan = deployment(entry(CronSchedule(cron="*/10 * * * *", timezone="Europe/Berlin")))

    assert plan_runs(plan, NOW) == plan_runs(plan, NOW)


def test_overlapping_invocations_produce_the_same_key_for_the_same_run() -> None:
    plan = deployment(entry(CronSchedule(cron="*/10 * * * *")))
    first = plan_runs(plan, NOW, max_runs=12)
    second = plan_runs(plan, NOW + timedelta(minutes=10), max_runs=12)
    keys_by_start = {run.start: run.idempotency_key for run in first}

    shared = [run for run in second if run.start in keys_by_start]

    assert len(shared) == 11
    assert all(run.idempotency_key == keys_by_start[run.start] for run in shared)


@pytest.mark.parametrize(
    ("min_runs", "max_runs", "horizon"),
    [(4, 3, timedelta(days=1)), (-1, 3, timedelta(days=1)), (1, 3, timedelta(days=-1))],
)
def test_inconsistent_bounds_are_rejected(min_runs: int, max_runs: int, horizon: timedelta) -> None:
    with pytest.raises(ValueError, match=r"min_runs|horizon"):
        plan_runs(
            deployment(entry(DAILY)), NOW, min_runs=min_runs, max_runs=max_runs, horizon=horizon
        )


@pytest.mark.parametrize(
    ("late_by", "expected"),
    [
        (timedelta(seconds=-5), False),
        (timedelta(0), False),
        (timedelta(seconds=15), False),
        (timedelta(seconds=15, microseconds=1), True),
        (timedelta(minutes=3), True),
    ],
)
def test_is_late_only_after_more_than_fifteen_seconds(late_by: timedelta, expected: bool) -> None:
    scheduled = utc(2024, 5, 1, 12)

    assert is_late(scheduled, scheduled + late_by) is expected


def test_is_late_honours_a_configured_threshold() -> None:
    scheduled = utc(2024, 5, 1, 12)

    assert is_late(scheduled, scheduled + timedelta(seconds=20), late_after_seconds=60) is False
    assert is_late(scheduled, scheduled + timedelta(seconds=61), late_after_seconds=60) is True


def test_a_schedule_that_cannot_be_planned_is_a_failure_and_the_others_are_planned() -> None:
    broken = RRuleSchedule(rrule="RRULE:FREQ=DAILY;INTERVAL=0")
    plan = deployment(
        entry(broken, schedule_id=SCHEDULE_ID, parameters={"token": "s3cr3t"}),
        entry(DAILY, schedule_id=OTHER_SCHEDULE_ID),
    )

    result = plan_deployment(plan, NOW)

    assert result.failures == (
        ScheduleFailure(
            DEPLOYMENT_ID,
            SCHEDULE_ID,
            "invalid",
            "invalid rrule 'RRULE:FREQ=DAILY;INTERVAL=0': INTERVAL must be at least 1, got 0",
        ),
    )
    assert [run.schedule_id for run in result.runs] == [OTHER_SCHEDULE_ID] * 7
    assert "s3cr3t" not in repr(result.failures)


def test_plan_runs_raises_the_first_failure() -> None:
    broken = RRuleSchedule(rrule="FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30")

    with pytest.raises(ScheduleError, match="never falls in month 2") as caught:
        plan_runs(deployment(entry(broken)), NOW)

    assert caught.value.reason == "never_fires"


def test_plan_deployment_rejects_a_naive_now() -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        plan_deployment(deployment(entry(DAILY)), datetime(2024, 5, 1))
