"""Property: for arbitrary cron, interval and rrule input, validation accepts it or raises
`ScheduleError` (the API's 422) within a bounded time, never another exception; and whatever it
accepts, the scheduler plans without a failure, now, on the next days and a year later
(hypothesis). `test_scheduling_starts.py` checks every start for the rules this found."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from stratoflow.schemas.flows import CronSchedule, IntervalSchedule, RRuleSchedule
from stratoflow_functions.scheduling.schedule_budget import ScheduleError
from stratoflow_functions.scheduling.scheduler_plan import plan_deployment
from stratoflow_functions.scheduling.schedules import validate_schedule
from tests.unit.scheduling.scheduling_support import deployment, entry

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
# Validation's total budget is 100 ms; one step of dateutil's inner loop can add about 50 ms.
VALIDATION_BOUND_SECONDS = 1.0
# Now (a Sunday), the next two days at other times of day, a month and a year later.
PLANNED_AT = [
    NOW + timedelta(days=d, hours=h) for d, h in ((0, 0), (1, 3), (2, 11), (30, 0), (365, 0))
]

FREQS = ["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY", "NEVER"]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU", "1MO", "-1FR", "2TU", "53SU", "XX"]


def _numbers(low: int, high: int) -> st.SearchStrategy[str]:
    values = st.integers(low, high) | st.sampled_from([0, -1, 10**9, 10**20])
    return st.lists(values, min_size=1, max_size=4).map(lambda xs: ",".join(map(str, xs)))


_stamp = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)).map(
    lambda d: d.strftime("%Y%m%dT%H%M%S").rjust(15, "0")
)
_parts = st.fixed_dictionaries(
    {"FREQ": st.sampled_from(FREQS)},
    optional={
        "INTERVAL": st.integers(-2, 400) | st.sampled_from([10**6, 10**20]),
        "COUNT": st.integers(-1, 50) | st.sampled_from([10**4, 10**9]),
        "UNTIL": _stamp.flatmap(lambda s: st.sampled_from([s, s + "Z", s[:8]])),
        "BYMONTH": _numbers(1, 12),
        "BYMONTHDAY": _numbers(-31, 31),
        "BYYEARDAY": _numbers(-366, 366),
        "BYWEEKNO": _numbers(-53, 53),
        "BYDAY": st.lists(st.sampled_from(DAYS), min_size=1, max_size=3).map(",".join),
        "BYHOUR": _numbers(0, 23),
        "BYMINUTE": _numbers(0, 59),
        "BYSECOND": _numbers(0, 59),
        "BYSETPOS": _numbers(-3, 3),
        "WKST": st.sampled_from(["MO", "SU", "XX"]),
    },
)
_rule_line = _parts.map(lambda parts: ";".join(f"{k}={v}" for k, v in parts.items()))
_extra_line = st.one_of(
    _stamp.map(lambda s: f"DTSTART:{s}"),
    _stamp.map(lambda s: f"DTSTART:{s}Z"),
    _stamp.map(lambda s: f"DTSTART;TZID=America/New_York:{s}"),
    _stamp.map(lambda s: f"DTSTART;VALUE=DATE:{s[:8]}"),
    _stamp.map(lambda s: f"EXDATE:{s}"),
    _stamp.map(lambda s: f"EXDATE:{s}Z"),
    _stamp.map(lambda s: f"RDATE:{s}"),
    _rule_line.map(lambda r: f"EXRULE:{r}"),
)
rrule_texts = st.one_of(
    _rule_line,
    st.builds(
        lambda rule, extras: "\n".join([f"RRULE:{rule}", *extras]),
        _rule_line,
        st.lists(_extra_line, max_size=3),
    ),
    st.text(min_size=5, max_size=80),
)
_cron_field = st.one_of(
    st.sampled_from(["*", "*/15", "0", "1-5", "30", "31", "L", "15W", "MON#2", "FEB", "?"]),
    st.integers(-1, 100).map(str),
    st.builds("{}-{}/{}".format, st.integers(0, 70), st.integers(0, 70), st.integers(0, 70)),
)
cron_texts = st.one_of(
    st.lists(_cron_field, min_size=4, max_size=7).map(" ".join),
    st.sampled_from(["@daily", "@hourly", "@reboot", "@yearly"]),
    st.text(min_size=5, max_size=40),
)


def _rrule(text: str, tz: str) -> RRuleSchedule:
    return RRuleSchedule(rrule=text, timezone=tz)


def _cron(text: str, tz: str, day_or: bool) -> CronSchedule:
    return CronSchedule(cron=text, timezone=tz, day_or=day_or)


def _interval(seconds: float, anchor: datetime | None, tz: str) -> IntervalSchedule:
    return IntervalSchedule(interval_seconds=seconds, anchor_date=anchor, timezone=tz)


zones = st.sampled_from(ZONES)
schedules = st.one_of(
    st.builds(_rrule, rrule_texts, zones),
    st.builds(_cron, cron_texts, zones, st.booleans()),
    st.builds(
        _interval,
        st.floats(-10, 400 * 86_400) | st.sampled_from([float("nan"), float("inf"), 1.0000001]),
        st.none() | st.datetimes(timezones=st.none() | st.just(UTC)),
        zones,
    ),
)


@st.composite
def schedule_inputs(draw: st.DrawFn) -> CronSchedule | IntervalSchedule | RRuleSchedule | None:
    """A schedule built through its model as the API does; None when the model refuses it."""
    try:
        return draw(schedules)
    except ValidationError:  # a 422 from the schema, before validation
        return None


def _refusal(schedule: CronSchedule | IntervalSchedule | RRuleSchedule) -> ScheduleError | None:
    """None when validation accepts the schedule, else its error (any other exception fails)."""
    try:
        validate_schedule(schedule, NOW)
    except ScheduleError as exc:
        return exc
    return None


@pytest.mark.timeout(600)
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule_inputs())
# Accepted on a Sunday, over the planning budget every Monday (and on every 31st, for the
# second): the DST margin walked 3 h of seconds before each window.
@example(RRuleSchedule(rrule="FREQ=SECONDLY;BYDAY=MO", timezone="UTC"))
@example(RRuleSchedule(rrule="FREQ=SECONDLY;BYMONTHDAY=31", timezone="UTC"))
def test_validation_accepts_or_refuses_within_a_bound_and_accepted_means_plannable(
    schedule: CronSchedule | IntervalSchedule | RRuleSchedule | None,
) -> None:
    if schedule is None:
        event("refused by the model")
        return
    started = time.thread_time()  # CPU time: a loaded runner must not fail a fast refusal
    refused = _refusal(schedule)
    assert time.thread_time() - started < VALIDATION_BOUND_SECONDS
    event(f"{type(schedule).__name__} {refused.reason if refused else 'accepted'}")
    if refused is not None:
        assert str(refused)  # names the problem
        assert refused.reason in {"invalid", "never_fires", "over_budget"}
        return

    for moment in PLANNED_AT:
        plan = plan_deployment(deployment(entry(schedule)), moment)
        assert plan.failures == (), plan.failures
    assert plan_deployment(deployment(entry(schedule)), NOW).runs  # accepted means it fires
