"""Properties of `next_times` over random schedules, zones and windows (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from stratoflow.schemas.flows import CronSchedule, IntervalSchedule, RRuleSchedule
from stratoflow_functions.scheduling.schedules import next_times

# Zones with DST in either hemisphere, a half-hour shift (Lord Howe) and none at all.
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe"]
CRONS = ["0 2 * * *", "30 2 * * *", "*/15 * * * *", "0 * * * *", "5 1-3 * * *", "0 9 * * MON-FRI"]
RRULES = [
    "FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0",
    "FREQ=HOURLY;INTERVAL=3",
    "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=30",
    "FREQ=MINUTELY;INTERVAL=45",
]

schedules = st.one_of(
    st.builds(CronSchedule, cron=st.sampled_from(CRONS), timezone=st.sampled_from(ZONES)),
    st.builds(
        IntervalSchedule,
        interval_seconds=st.sampled_from([60.0, 900.0, 3600.0, 5400.0, 86_400.0, 172_800.0]),
        anchor_date=st.none() | st.datetimes(datetime(2019, 1, 1), datetime(2031, 1, 1)),
        timezone=st.sampled_from(ZONES),
    ),
    st.builds(RRuleSchedule, rrule=st.sampled_from(RRULES), timezone=st.sampled_from(ZONES)),
)
# 2024 DST transitions (UTC) of the zones above, so windows often straddle one.
TRANSITIONS = [
    datetime(2024, 3, 10, 7, tzinfo=UTC),
    datetime(2024, 11, 3, 6, tzinfo=UTC),
    datetime(2024, 3, 31, 1, tzinfo=UTC),
    datetime(2024, 10, 27, 1, tzinfo=UTC),
    datetime(2024, 4, 6, 16, tzinfo=UTC),
    datetime(2024, 10, 5, 16, tzinfo=UTC),
    datetime(2024, 4, 6, 15, tzinfo=UTC),
    datetime(2024, 10, 5, 15, 30, tzinfo=UTC),
]
near_transitions = st.builds(
    lambda moment, offset: moment + offset,
    st.sampled_from(TRANSITIONS),
    st.timedeltas(timedelta(days=-2), timedelta(hours=6)),
)
afters = (
    st.datetimes(datetime(2022, 1, 1), datetime(2028, 1, 1), timezones=st.just(UTC))
    | near_transitions
)
windows = st.timedeltas(timedelta(0), timedelta(days=5))
short_windows = st.timedeltas(timedelta(0), timedelta(days=2))
NO_LIMIT = 1_000_000


@settings(max_examples=150, deadline=None)
@given(schedules, afters, windows, st.integers(0, 60))
def test_times_are_utc_strictly_increasing_and_within_bounds(
    schedule: CronSchedule | IntervalSchedule | RRuleSchedule,
    after: datetime,
    window: timedelta,
    limit: int,
) -> None:
    until = after + window

    times = next_times(schedule, after, until, limit)

    assert len(times) <= limit
    assert all(t.tzinfo is UTC for t in times)
    assert all(after < t <= until for t in times)
    assert all(a < b for a, b in pairwise(times))


@settings(max_examples=80, deadline=None)
@given(schedules, afters, short_windows, short_windows)
def test_splitting_a_window_gives_the_same_times(
    schedule: CronSchedule | IntervalSchedule | RRuleSchedule,
    after: datetime,
    first: timedelta,
    second: timedelta,
) -> None:
    middle, until = after + first, after + first + second

    whole = next_times(schedule, after, until, NO_LIMIT)

    assert whole == next_times(schedule, after, middle, NO_LIMIT) + next_times(
        schedule, middle, until, NO_LIMIT
    )


@settings(max_examples=100, deadline=None)
@given(schedules, afters, st.integers(1, 30))
def test_a_smaller_limit_is_a_prefix_of_a_larger_one(
    schedule: CronSchedule | IntervalSchedule | RRuleSchedule, after: datetime, limit: int
) -> None:
    until = after + timedelta(days=60)

    assert (
        next_times(schedule, after, until, limit) == next_times(schedule, after, until, 40)[:limit]
    )
