"""`next_times` for cron, interval and rrule schedules, DST transitions included.

2024 transitions used below: Europe/Berlin springs forward on 31 March (02:00 CET → 03:00 CEST,
at 01:00 UTC) and falls back on 27 October (03:00 CEST → 02:00 CET, at 01:00 UTC);
America/New_York springs forward on 10 March at 07:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stratoflow.schemas.flows import CronSchedule, IntervalSchedule, RRuleSchedule
from stratoflow_functions.scheduling.rrules import build_rrule
from stratoflow_functions.scheduling.schedules import next_times, resolve_wall_time
from tests.unit.scheduling.scheduling_support import utc

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def test_daily_cron_on_spring_forward_day_fires_once_at_the_end_of_the_gap() -> None:
    schedule = CronSchedule(cron="0 2 * * *", timezone=BERLIN)

    times = next_times(schedule, utc(2024, 3, 30), utc(2024, 4, 1, 12), limit=10)

    # 02:00 CET the day before, 03:00 CEST (the first valid time) on the day, 02:00 CEST after.
    assert times == [utc(2024, 3, 30, 1), utc(2024, 3, 31, 1), utc(2024, 4, 1, 0)]


def test_daily_cron_on_fall_back_day_fires_exactly_once_at_the_first_occurrence() -> None:
    schedule = CronSchedule(cron="0 2 * * *", timezone=BERLIN)

    times = next_times(schedule, utc(2024, 10, 25, 12), utc(2024, 10, 28, 12), limit=10)

    # 02:00 CEST on the day (00:00 UTC), never again at 02:00 CET (01:00 UTC).
    assert times == [utc(2024, 10, 26, 0), utc(2024, 10, 27, 0), utc(2024, 10, 28, 1)]


def test_cron_time_inside_the_gap_fires_at_the_transition_instant() -> None:
    schedule = CronSchedule(cron="30 2 * * *", timezone=BERLIN)

    times = next_times(schedule, utc(2024, 3, 31), utc(2024, 3, 31, 23), limit=10)

    assert times == [utc(2024, 3, 31, 1)]


def test_hourly_cron_keeps_firing_every_hour_through_the_repeated_hour() -> None:
    schedule = CronSchedule(cron="0 * * * *", timezone=BERLIN)

    times = next_times(schedule, utc(2024, 10, 26, 22, 30), utc(2024, 10, 27, 3), limit=10)

    assert times == [utc(2024, 10, 26, 23), *(utc(2024, 10, 27, h) for h in range(4))]


def test_sub_hourly_cron_has_no_duplicate_or_missing_slot_on_spring_forward() -> None:
    schedule = CronSchedule(cron="*/30 * * * *", timezone=BERLIN)

    times = next_times(schedule, utc(2024, 3, 31, 0), utc(2024, 3, 31, 1, 45), limit=10)

    # 01:30 CET, then 02:00 and 02:30 (in the gap) and 03:00 CEST all land on 01:00 UTC once.
    assert times == [utc(2024, 3, 31, 0, 30), utc(2024, 3, 31, 1), utc(2024, 3, 31, 1, 30)]


def test_cron_window_excludes_after_and_includes_until() -> None:
    schedule = CronSchedule(cron="0 * * * *")

    times = next_times(schedule, utc(2024, 5, 1, 10), utc(2024, 5, 1, 12), limit=10)

    assert times == [utc(2024, 5, 1, 11), utc(2024, 5, 1, 12)]


def test_limit_keeps_the_earliest_times() -> None:
    schedule = CronSchedule(cron="*/15 * * * *")

    times = next_times(schedule, utc(2024, 5, 1), utc(2024, 5, 2), limit=3)

    assert times == [utc(2024, 5, 1, 0, 15), utc(2024, 5, 1, 0, 30), utc(2024, 5, 1, 0, 45)]


def test_empty_window_or_zero_limit_gives_nothing() -> None:
    schedule = CronSchedule(cron="* * * * *")

    assert next_times(schedule, utc(2024, 5, 1), utc(2024, 5, 1), limit=5) == []
    assert next_times(schedule, utc(2024, 5, 1), utc(2024, 5, 2), limit=0) == []


def test_results_are_utc_even_for_bounds_in_another_zone() -> None:
    berlin = ZoneInfo(BERLIN)
    schedule = CronSchedule(cron="0 9 * * *", timezone=BERLIN)

    times = next_times(
        schedule, datetime(2024, 5, 1, tzinfo=berlin), datetime(2024, 5, 2, tzinfo=berlin), 5
    )

    assert times == [utc(2024, 5, 1, 7)]
    assert times[0].tzinfo is UTC


def test_cron_day_or_false_requires_both_day_fields() -> None:
    schedule = CronSchedule(cron="0 0 13 * FRI", day_or=False)

    times = next_times(schedule, utc(2024, 6, 1), utc(2025, 1, 1), limit=10)

    assert times == [utc(2024, 9, 13), utc(2024, 12, 13)]


def test_naive_bounds_are_rejected() -> None:
    schedule = CronSchedule(cron="0 * * * *")

    with pytest.raises(ValueError, match="after must be a timezone-aware datetime"):
        next_times(schedule, datetime(2024, 5, 1), utc(2024, 5, 2), limit=1)


def test_interval_counts_whole_steps_from_the_anchor() -> None:
    schedule = IntervalSchedule(interval_seconds=5400, anchor_date=utc(2024, 1, 1, 0, 10))

    times = next_times(schedule, utc(2024, 1, 2), utc(2024, 1, 2, 4), limit=10)

    # 24 h is 16 steps of 90 min, so the phase on day two is again hh:10 / hh:40.
    assert times == [utc(2024, 1, 2, 0, 10), utc(2024, 1, 2, 1, 40), utc(2024, 1, 2, 3, 10)]


def test_interval_anchor_in_the_future_only_sets_the_phase() -> None:
    schedule = IntervalSchedule(interval_seconds=3600, anchor_date=utc(2030, 1, 1, 0, 20))

    times = next_times(schedule, utc(2024, 1, 1), utc(2024, 1, 1, 2), limit=10)

    assert times == [utc(2024, 1, 1, 0, 20), utc(2024, 1, 1, 1, 20)]


def test_interval_default_anchor_is_2020_in_the_schedules_timezone() -> None:
    schedule = IntervalSchedule(interval_seconds=7 * 3600, timezone=NEW_YORK)

    times = next_times(schedule, utc(2020, 1, 1), utc(2020, 1, 1, 20), limit=10)

    # 2020-01-01 00:00 EST is 05:00 UTC.
    assert times == [utc(2020, 1, 1, 5), utc(2020, 1, 1, 12), utc(2020, 1, 1, 19)]


def test_naive_anchor_is_read_in_the_schedules_timezone() -> None:
    schedule = IntervalSchedule(
        interval_seconds=3 * 3600, anchor_date=datetime(2024, 6, 1, 1), timezone=BERLIN
    )

    times = next_times(schedule, utc(2024, 6, 1), utc(2024, 6, 1, 6), limit=10)

    # 01:00 CEST is 23:00 UTC the day before; steps land on 02:00 and 05:00 UTC.
    assert times == [utc(2024, 6, 1, 2), utc(2024, 6, 1, 5)]


def test_daily_interval_keeps_the_anchors_wall_clock_time_across_dst() -> None:
    schedule = IntervalSchedule(
        interval_seconds=86_400, anchor_date=datetime(2024, 1, 1, 9), timezone=BERLIN
    )

    times = next_times(schedule, utc(2024, 3, 30), utc(2024, 4, 1, 12), limit=10)

    assert times == [utc(2024, 3, 30, 8), utc(2024, 3, 31, 7), utc(2024, 4, 1, 7)]


def test_sub_daily_interval_is_a_fixed_number_of_seconds_across_dst() -> None:
    schedule = IntervalSchedule(
        interval_seconds=12 * 3600, anchor_date=datetime(2024, 3, 30), timezone=BERLIN
    )

    times = next_times(schedule, utc(2024, 3, 30), utc(2024, 4, 1), limit=10)

    assert times == [utc(2024, 3, 30, 11), utc(2024, 3, 30, 23), utc(2024, 3, 31, 11),
                     utc(2024, 3, 31, 23)]  # fmt: skip


def test_weekly_rrule_keeps_nine_oclock_local_across_the_dst_change() -> None:
    schedule = RRuleSchedule(
        rrule="FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0;BYSECOND=0", timezone=NEW_YORK
    )

    times = next_times(schedule, utc(2024, 3, 1), utc(2024, 3, 14), limit=10)

    # 09:00 EST is 14:00 UTC; after 10 March 09:00 EDT is 13:00 UTC.
    assert times == [utc(2024, 3, 4, 14), utc(2024, 3, 6, 14), utc(2024, 3, 11, 13),
                     utc(2024, 3, 13, 13)]  # fmt: skip


def test_rrule_floating_dtstart_is_read_in_the_schedules_timezone_and_count_ends_it() -> None:
    schedule = RRuleSchedule(
        rrule="DTSTART:20240601T090000\nRRULE:FREQ=DAILY;COUNT=3", timezone=BERLIN
    )

    times = next_times(schedule, utc(2024, 5, 1), utc(2024, 7, 1), limit=10)

    assert times == [utc(2024, 6, 1, 7), utc(2024, 6, 2, 7), utc(2024, 6, 3, 7)]
    assert next_times(schedule, utc(2024, 6, 3, 7), utc(2024, 7, 1), limit=10) == []


def test_rrule_dtstart_with_its_own_tzid_keeps_that_zone() -> None:
    schedule = RRuleSchedule(
        rrule="DTSTART;TZID=America/New_York:20240601T090000\nRRULE:FREQ=DAILY", timezone=BERLIN
    )

    times = next_times(schedule, utc(2024, 6, 1), utc(2024, 6, 2, 23), limit=10)

    assert times == [utc(2024, 6, 1, 13), utc(2024, 6, 2, 13)]


def test_rrule_until_in_utc_stops_the_rule() -> None:
    schedule = RRuleSchedule(rrule="FREQ=DAILY;BYHOUR=6;UNTIL=20240103T000000Z")

    times = next_times(schedule, utc(2024, 1, 1), utc(2024, 2, 1), limit=10)

    assert times == [utc(2024, 1, 1, 6), utc(2024, 1, 2, 6)]


def test_rrule_exdate_removes_an_occurrence() -> None:
    schedule = RRuleSchedule(
        rrule="DTSTART:20240101T080000\nRRULE:FREQ=DAILY\nEXDATE:20240102T080000Z"
    )

    times = next_times(schedule, utc(2024, 1, 1), utc(2024, 1, 3, 12), limit=10)

    assert times == [utc(2024, 1, 1, 8), utc(2024, 1, 3, 8)]


@pytest.mark.parametrize(
    ("rule", "timezone"),
    [
        ("FREQ=MINUTELY;INTERVAL=7", "UTC"),
        ("FREQ=HOURLY;INTERVAL=5;BYMINUTE=7,37", NEW_YORK),
        ("FREQ=MINUTELY;INTERVAL=13;BYHOUR=1,2,3", NEW_YORK),
        ("FREQ=SECONDLY;INTERVAL=3607", BERLIN),
    ],
)
def test_sub_daily_rrule_shortcut_matches_a_full_walk_from_dtstart(
    rule: str, timezone: str
) -> None:
    after, until = utc(2024, 3, 9, 22), utc(2024, 3, 10, 9)
    schedule = RRuleSchedule(rrule=rule, timezone=timezone)
    zone = ZoneInfo(timezone)
    full_walk = build_rrule(rule, zone).between(after - timedelta(hours=3), until, inc=True)
    expected = sorted(
        {t for o in full_walk if after < (t := resolve_wall_time(o.replace(tzinfo=None), zone)[0])}
    )

    assert len(expected) > 3
    assert next_times(schedule, after, until, limit=1000) == expected


def test_resolve_wall_time_names_both_instants_of_a_repeated_time() -> None:
    first, second = resolve_wall_time(datetime(2024, 10, 27, 2, 30), ZoneInfo(BERLIN))

    assert (first, second) == (utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 30))
