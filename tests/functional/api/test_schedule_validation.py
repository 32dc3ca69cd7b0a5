"""`POST /deployments` refuses a schedule the scheduler could not plan: 422 `invalid_schedule`
with a message naming the problem, answered within a bound, and nothing stored.

The first four rules were accepted (201) before and then broke every scheduler tick."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support import ApiCaller

# Validation spends at most 100 ms per schedule (50 ms per plan); moto and the resolver add the
# rest.
ANSWER_BOUND_SECONDS = 2.0


def _deploy(api: ApiCaller, flow_id: str, *schedules: dict[str, Any]) -> tuple[Any, float]:
    body = {
        "flow_id": flow_id,
        "name": "nightly",
        "entrypoint": "flows/etl.py:etl",
        "schedules": [{"schedule": schedule} for schedule in schedules],
    }
    started = time.thread_time()  # CPU time: what validation spent, however loaded the runner
    answer = api.post("/deployments", body)
    return answer, time.thread_time() - started


def _rrule(text: str, timezone: str = "UTC") -> dict[str, Any]:
    return {"type": "rrule", "rrule": text, "timezone": timezone}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (_rrule("FREQ=DAILY;INTERVAL=0"), "INTERVAL must be at least 1, got 0"),
        (
            _rrule("FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30"),
            "day of month 30 never falls in month 2, so it never fires",
        ),
        (
            _rrule("FREQ=SECONDLY;COUNT=1000000000"),
            "listing its COUNT=1000000000 occurrences takes more than the validation budget",
        ),
        (_rrule("RRULE:FREQ=DAILY\nEXRULE:FREQ=DAILY"), "more than the validation budget"),
        (_rrule("FREQ=DAILY;UNTIL=20250101T000000Z"), "has no occurrence in the 25 years after"),
        (_rrule("FREQ=HOURLY;BYSECOND=75"), "BYSECOND must be within 0..59, got 75"),
        (_rrule("FREQ=DAILY;COUNT=2;UNTIL=20300101T000000Z"), "COUNT and UNTIL must not both"),
        ({"type": "cron", "cron": "0 0 30 2 *"}, "it never matches a date"),
        ({"type": "cron", "cron": "0 0 31 2 1", "day_or": False}, "it never matches a date"),
    ],
)
def test_a_schedule_that_cannot_be_planned_is_a_422_naming_it_and_nothing_is_stored(
    api: ApiCaller, flow_id: str, schedule: dict[str, Any], message: str
) -> None:
    answer, seconds = _deploy(api, flow_id, {"type": "cron", "cron": "0 6 * * *"}, schedule)

    assert answer.status == 422
    assert answer.code == "invalid_schedule"
    assert message in answer.body["error"]["message"]
    assert seconds < ANSWER_BOUND_SECONDS
    assert api.get("/deployments/by-name/etl/nightly").status == 404
    assert api.get("/deployments").body["items"] == []


@pytest.mark.parametrize(
    "schedule",
    [
        _rrule("FREQ=DAILY", timezone="America"),  # a folder of the tz database
        _rrule("FREQ=DAILY", timezone="Mars/Olympus"),
        {"type": "interval", "interval_seconds": 0},
        {"type": "interval", "interval_seconds": -60},
        {"type": "interval", "interval_seconds": 400 * 86_400},
    ],
)
def test_unknown_zones_and_absurd_intervals_are_schema_422s(
    api: ApiCaller, flow_id: str, schedule: dict[str, Any]
) -> None:
    answer, _ = _deploy(api, flow_id, schedule)

    assert answer.status == 422
    assert answer.code == "validation_error"
    assert api.get("/deployments").body["items"] == []


@pytest.mark.parametrize(
    "schedule",
    [
        _rrule("RRULE:FREQ=DAILY\nEXDATE:20200101T000000"),  # broke every tick with a TypeError
        _rrule("DTSTART:20260302T090000\nRRULE:FREQ=WEEKLY;COUNT=10", "Europe/Berlin"),
        {"type": "cron", "cron": "0 0 29 2 1", "day_or": False},  # next in 2044
        {"type": "interval", "interval_seconds": 90, "anchor_date": "2026-01-01T00:00:00Z"},
    ],
)
def test_schedules_that_can_be_planned_are_accepted(
    api: ApiCaller, flow_id: str, schedule: dict[str, Any]
) -> None:
    answer, _ = _deploy(api, flow_id, schedule)

    assert answer.status == 201
    assert answer.body["schedules"][0]["schedule"]["type"] == schedule["type"]
