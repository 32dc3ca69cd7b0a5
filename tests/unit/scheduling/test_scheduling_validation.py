"""`validate_schedule`: the messages the API turns into a 422, and what it refuses.

Every case here returns or raises well within its pytest-timeout: validation runs on a budget
of 5,000 steps / 50 ms (`VALIDATION_BUDGET`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from stratoflow.schemas.flows import CronSchedule, IntervalSchedule, RRuleSchedule
from stratoflow_functions.scheduling.schedule_budget import ScheduleError
from stratoflow_functions.scheduling.schedules import next_times, validate_schedule
from tests.unit.scheduling.scheduling_support import utc

NOW = utc(2026, 3, 1, 12)


@pytest.mark.parametrize(
    "schedule",
    [
        CronSchedule(cron="0 2 * * *", timezone="Europe/Berlin"),
        CronSchedule(cron="@midnight"),
        CronSchedule(cron="0 9 * * MON#2"),
        IntervalSchedule(interval_seconds=60),
        RRuleSchedule(rrule="FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9", timezone="America/New_York"),
        RRuleSchedule(rrule="DTSTART;TZID=Asia/Tokyo:20240101T090000\nRRULE:FREQ=DAILY"),
    ],
)
def test_valid_schedules_pass_and_fire(
    schedule: CronSchedule | IntervalSchedule | RRuleSchedule,
) -> None:
    validate_schedule(schedule, NOW)

    assert len(next_times(schedule, utc(2024, 1, 1), utc(2025, 1, 1), limit=1)) == 1


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("61 * * * *", r"invalid cron expression '61 \* \* \* \*': .*out of range"),
        ("not a cron", r"invalid cron expression 'not a cron'"),
        ("0 2 * * * 2024", r"invalid cron expression '0 2 \* \* \* 2024'"),
        ("*/5 * * * * *", r"expected 5 fields \(minute hour day-of-month month day-of-week\)"),
        ("0 0 30 2 *", r"invalid cron expression '0 0 30 2 \*': it never matches a date"),
        ("H 2 * * *", r"invalid cron expression 'H 2 \* \* \*'"),
    ],
)
def test_bad_cron_is_a_value_error_naming_the_expression(cron: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        validate_schedule(CronSchedule(cron=cron), NOW)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=FORTNIGHTLY", r"invalid rrule 'FREQ=FORTNIGHTLY': "),
        ("FREQ=DAILY;BYHOUR=25", r"invalid rrule 'FREQ=DAILY;BYHOUR=25': "),
        ("DTSTART;TZID=Mars/Olympus:20240101T090000\nRRULE:FREQ=DAILY", "Mars/Olympus"),
        ("FREQ=DAILY;UNTIL=20240101T000000", r"UNTIL values must be specified in UTC"),
        ("HELLO:WORLD", r"invalid rrule 'HELLO:WORLD': unsupported property"),
    ],
)
def test_bad_rrule_is_a_value_error_naming_the_rule(rule: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        validate_schedule(RRuleSchedule(rrule=rule), NOW)


def test_unknown_timezone_is_rejected_by_the_schema() -> None:
    with pytest.raises(ValidationError, match="unknown IANA timezone 'Mars/Olympus'"):
        CronSchedule(cron="0 2 * * *", timezone="Mars/Olympus")


def test_unknown_timezone_on_an_unvalidated_schedule_is_a_value_error() -> None:
    schedule = CronSchedule.model_construct(cron="0 2 * * *", timezone="Mars/Olympus")

    with pytest.raises(ScheduleError, match="unknown IANA timezone 'Mars/Olympus'"):
        validate_schedule(schedule, NOW)


def test_next_times_raises_the_same_message_for_a_bad_cron() -> None:
    with pytest.raises(ScheduleError, match="invalid cron expression '61 "):
        next_times(CronSchedule(cron="61 * * * *"), utc(2024, 1, 1), utc(2024, 1, 2), limit=1)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("rule", "reason", "message"),
    [
        ("FREQ=DAILY;INTERVAL=0", "invalid", r"INTERVAL must be at least 1, got 0"),
        ("FREQ=HOURLY;INTERVAL=-3", "invalid", r"INTERVAL must be at least 1, got -3"),
        ("FREQ=DAILY;INTERVAL=99999999999999999999", "invalid", r"over 100 years long"),
        ("FREQ=YEARLY;INTERVAL=101", "invalid", r"INTERVAL=101 makes a period over 100 years"),
        ("FREQ=HOURLY;BYSECOND=-1", "invalid", r"BYSECOND must be within 0\.\.59, got -1"),
        ("FREQ=YEARLY;BYYEARDAY=10000000000000000000", "invalid", r"BYYEARDAY must be within"),
        ("FREQ=MONTHLY;BYDAY=53SU", "invalid", r"BYDAY ordinal 53 is outside -5\.\.5"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20300101T000000Z", "invalid", r"COUNT and UNTIL must not"),
        (
            "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30",
            "never_fires",
            r"day of month 30 never falls in month 2, so it never fires",
        ),
        (
            "FREQ=MONTHLY;BYMONTH=4,6,9,11;BYMONTHDAY=31",
            "never_fires",
            r"day of month 31 never falls in month 4,6,9,11",
        ),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30", "never_fires", r"day of month 30 never falls"),
        (
            "DTSTART:20200130T090000\nRRULE:FREQ=YEARLY;BYMONTH=2",  # day 30 taken from DTSTART
            "never_fires",
            r"day of month 30 never falls in month 2",
        ),
        (
            "FREQ=SECONDLY;COUNT=1000000000",
            "over_budget",
            r"listing its COUNT=1000000000 occurrences takes more than the validation budget"
            r".*use UNTIL",
        ),
        ("FREQ=DAILY;UNTIL=20250101T000000Z", "never_fires", r"no occurrence in the 25 years"),
        ("DTSTART:20200101T000000\nRRULE:FREQ=DAILY;COUNT=3", "never_fires", r"COUNT already"),
        ("DTSTART:20900101T000000\nRRULE:FREQ=DAILY", "never_fires", r"no occurrence in the 25"),
        ("RRULE:FREQ=DAILY\nEXRULE:FREQ=DAILY", "over_budget", r"more than the validation"),
        ("FREQ=SECONDLY;BYSETPOS=2", "over_budget", r"more than the validation budget"),
        (
            "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;BYYEARDAY=60",  # past the static check
            "over_budget",
            r"evaluating it takes more than the validation budget of 5,000 steps / 50 ms",
        ),
    ],
)
def test_schedules_that_cannot_be_planned_are_refused_naming_the_problem(
    rule: str, reason: str, message: str
) -> None:
    with pytest.raises(ScheduleError, match=message) as caught:
        validate_schedule(RRuleSchedule(rrule=rule), NOW)

    assert caught.value.reason == reason
    assert repr(rule)[1:20] in str(caught.value)  # names the schedule


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "rule",
    [
        "RRULE:FREQ=DAILY\nEXDATE:20200101T000000",  # broke every tick with a TypeError
        "DTSTART:20260302\nRRULE:FREQ=DAILY",  # a date-only DTSTART is floating too
        "DTSTART:2026-03-02T09:00:00\nRRULE:FREQ=DAILY",
        "RRULE:FREQ=WEEKLY\nRDATE:20260305T100000",
        "DTSTART;TZID=Asia/Tokyo:20260101T090000\nRRULE:FREQ=DAILY\nEXDATE:20260302T000000Z",
    ],
)
def test_floating_and_mixed_zone_dates_are_accepted_and_evaluated(rule: str) -> None:
    schedule = RRuleSchedule(rrule=rule, timezone="Europe/Berlin")

    validate_schedule(schedule, NOW)

    assert next_times(schedule, NOW, NOW + timedelta(days=14), limit=20)


def test_floating_exdate_removes_the_occurrence_at_that_wall_time() -> None:
    rule = "DTSTART:20260301T090000\nRRULE:FREQ=DAILY\nEXDATE:20260303T090000"
    schedule = RRuleSchedule(rrule=rule, timezone="Europe/Berlin")

    times = next_times(schedule, NOW, utc(2026, 3, 5), limit=10)

    assert times == [utc(2026, 3, 2, 8), utc(2026, 3, 4, 8)]  # 09:00 CET, not the 3rd


def test_floating_rdate_adds_an_occurrence_in_the_schedule_zone() -> None:
    rule = "DTSTART:20260302T090000\nRRULE:FREQ=WEEKLY;COUNT=1\nRDATE:20260304T100000"
    schedule = RRuleSchedule(rrule=rule, timezone="America/New_York")

    assert next_times(schedule, NOW, utc(2026, 4, 1), limit=10) == [
        utc(2026, 3, 2, 14),
        utc(2026, 3, 4, 15),
    ]


@pytest.mark.parametrize("cron", ["0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_cron_that_never_fires_is_refused(cron: str) -> None:
    with pytest.raises(ScheduleError, match="it never matches a date") as caught:
        validate_schedule(CronSchedule(cron=cron), NOW)

    assert caught.value.reason == "never_fires"


def test_cron_on_a_rare_date_is_accepted() -> None:
    schedule = CronSchedule(cron="0 0 29 2 1", day_or=False)  # Feb 29 that is a Monday: 2044

    validate_schedule(schedule, NOW)

    assert next_times(schedule, NOW, utc(2050, 1, 1), limit=1) == [utc(2044, 2, 29)]


@pytest.mark.parametrize("name", ["America", "x" * 300, "Europe/../UTC", "Mars/Olympus"])
def test_timezone_names_that_are_not_zones_are_schema_errors(name: str) -> None:
    with pytest.raises(ValidationError, match="unknown IANA timezone"):
        RRuleSchedule(rrule="FREQ=DAILY", timezone=name)


@pytest.mark.parametrize("seconds", [0, -60, 0.5, 366 * 86_400 + 1, float("nan"), float("inf")])
def test_absurd_intervals_are_schema_errors(seconds: float) -> None:
    with pytest.raises(ValidationError, match="interval_seconds"):
        IntervalSchedule(interval_seconds=seconds)


def test_interval_anchored_at_the_edge_of_time_is_a_schedule_error() -> None:
    schedule = IntervalSchedule(
        interval_seconds=3600, anchor_date=datetime(1, 1, 1), timezone="Asia/Tokyo"
    )

    with pytest.raises(ScheduleError, match="interval of 3600 s cannot be evaluated"):
        validate_schedule(schedule, NOW)


def test_rrule_at_the_end_of_time_is_a_schedule_error_not_an_overflow() -> None:
    rule = "DTSTART:99991231T230000\nRRULE:FREQ=DAILY"

    with pytest.raises(ScheduleError):
        next_times(RRuleSchedule(rrule=rule, timezone="America/New_York"), NOW, utc(9999, 1, 1), 1)
