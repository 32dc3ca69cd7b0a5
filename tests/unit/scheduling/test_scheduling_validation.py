"""`validate_schedule`: the messages the API turns into a 422."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stratoflow.schemas.flows import CronSchedule, IntervalSchedule, RRuleSchedule
from stratoflow_functions.orchestration.schedules import next_times, validate_schedule
from tests.unit.scheduling.scheduling_support import utc


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
    validate_schedule(schedule)

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
    with pytest.raises(ValueError, match=message):
        validate_schedule(CronSchedule(cron=cron))


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
    with pytest.raises(ValueError, match=message):
        validate_schedule(RRuleSchedule(rrule=rule))


def test_unknown_timezone_is_rejected_by_the_schema() -> None:
    with pytest.raises(ValidationError, match="unknown IANA timezone 'Mars/Olympus'"):
        CronSchedule(cron="0 2 * * *", timezone="Mars/Olympus")


def test_unknown_timezone_on_an_unvalidated_schedule_is_a_value_error() -> None:
    schedule = CronSchedule.model_construct(cron="0 2 * * *", timezone="Mars/Olympus")

    with pytest.raises(ValueError, match="unknown IANA timezone 'Mars/Olympus'"):
        validate_schedule(schedule)


def test_next_times_raises_the_same_message_for_a_bad_cron() -> None:
    with pytest.raises(ValueError, match="invalid cron expression '61 "):
        next_times(CronSchedule(cron="61 * * * *"), utc(2024, 1, 1), utc(2024, 1, 2), limit=1)
