"""What validation accepts stays cheap to plan from any start, not only from the moment it ran.

The scheduler plans each schedule every tick for as long as it exists, so the cost that
matters is the worst over all starts. Two things made it depend on the start: rrules were
searched from three hours before the window (a margin for DST), which for a rule that fires
every second costs 10,800 occurrences when the three hours are inside a firing day
(`FREQ=SECONDLY;BYDAY=MO` on a Monday: accepted on a Sunday, over the planning budget every
Monday after); and a rule restricted to some days walks its pauses period by period, so it is
cheap just before a firing day and expensive just after one. The margin is gone (the search
starts at the window, exactly: the DST cases below), and validation also plans from the start
of the longest pause (`worst_starts`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stratoflow.schemas.flows import RRuleSchedule
from stratoflow_functions.scheduling.rrules import build_rrule
from stratoflow_functions.scheduling.schedule_budget import (
    PLANNING_BUDGET,
    VALIDATION_BUDGET,
    BudgetSpec,
    ScheduleBudgetError,
)
from stratoflow_functions.scheduling.schedules import (
    PlanBounds,
    next_times,
    resolve_wall_time,
    upcoming_times,
    validate_schedule,
)
from stratoflow_functions.scheduling.worst_starts import worst_starts
from tests.unit.scheduling.scheduling_support import utc

NOW = utc(2026, 3, 1, 12)  # a Sunday
HOUR = 3600.0
# Steps only: the time limit depends on the machine, the step count does not.
VALIDATION_STEPS = BudgetSpec(VALIDATION_BUDGET.steps, HOUR, "validation steps")
PLANNING_STEPS = BudgetSpec(PLANNING_BUDGET.steps, HOUR, "planning steps")
UNBOUNDED = BudgetSpec(10**9, HOUR)
# Every third hour of the first eight days, then every seventh day for two years, at a
# different hour each time.
STARTS = [NOW + timedelta(hours=h) for h in range(0, 8 * 24, 3)] + [
    NOW + timedelta(days=d, hours=d % 24) for d in range(8, 2 * 366, 7)
]
# Every 29th day for nine years, for rules that pause for years (a leap day, ISO week 53).
YEARS_OF_STARTS = [NOW + timedelta(days=d, hours=d % 24) for d in range(0, 9 * 366, 29)]
VALIDATED = {"budget": VALIDATION_STEPS, "total": UNBOUNDED}


def _steps(schedule: RRuleSchedule, start: datetime, spec: BudgetSpec = VALIDATION_STEPS) -> int:
    """What planning from `start` costs, in steps; over `spec`, one more than it allows."""
    budget = spec.start()
    try:
        upcoming_times(schedule, start, PlanBounds(), budget)
    except ScheduleBudgetError:
        return spec.steps + 1
    return budget.spent


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("rule", "timezone", "starts"),
    [
        ("FREQ=SECONDLY;BYDAY=MO", "UTC", STARTS),  # the fuzz test's find: failed on Mondays
        ("FREQ=SECONDLY;BYDAY=MO", "Europe/Berlin", STARTS),
        ("FREQ=SECONDLY", "America/New_York", STARTS),  # refused before: 3 h of seconds a plan
        ("FREQ=SECONDLY;BYMONTHDAY=31", "UTC", STARTS),
        ("FREQ=MINUTELY;BYMONTH=2", "UTC", STARTS),
        ("FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=29", "Asia/Kathmandu", YEARS_OF_STARTS),
        ("FREQ=HOURLY;BYWEEKNO=53;BYMINUTE=0", "UTC", YEARS_OF_STARTS),
    ],
)
def test_an_accepted_rule_plans_within_the_validation_budget_from_every_start(
    rule: str, timezone: str, starts: list[datetime]
) -> None:
    schedule = RRuleSchedule(rrule=rule, timezone=timezone)
    validate_schedule(schedule, NOW, **VALIDATED)

    costs = {start: _steps(schedule, start) for start in starts}

    assert max(costs.values()) <= VALIDATION_BUDGET.steps  # a quarter of the planning budget


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("rule", "now", "worst", "why"),
    [
        (  # Monday 29 February: 2044, then 2072
            "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",
            utc(2044, 2, 28, 12),
            "2044-03-01T00:00:00Z",
            "the start of its longest pause between firing days",
        ),
        (  # every second of March only: validated in March, planned from April on (the run
            # of excluded days to February 2028 is the longest: a leap year)
            "RRULE:FREQ=SECONDLY\nEXRULE:FREQ=SECONDLY;BYMONTH=1,2,4,5,6,7,8,9,10,11,12",
            NOW,
            "2027-04-01T00:00:00Z",
            "the first day of its EXRULE's longest run of excluded days",
        ),
    ],
)
def test_a_rule_cheap_to_plan_now_but_not_later_is_refused_naming_the_start(
    rule: str, now: datetime, worst: str, why: str
) -> None:
    schedule = RRuleSchedule(rrule=rule)
    assert _steps(schedule, now) < VALIDATION_BUDGET.steps / 10  # what validating now saw

    with pytest.raises(ScheduleBudgetError, match="planning it from") as caught:
        validate_schedule(schedule, now, **VALIDATED)

    assert caught.value.reason == "over_budget"
    assert f"planning it from {worst} ({why}) takes more than the" in str(caught.value)
    assert "use a coarser FREQ" in str(caught.value)
    start = datetime.fromisoformat(worst)
    assert _steps(schedule, start, PLANNING_STEPS) > VALIDATION_BUDGET.steps  # and it is real


@pytest.mark.timeout(30)
def test_a_rule_whose_pauses_cost_seconds_of_scanning_is_refused_by_the_time_limit() -> None:
    # Validated a minute before it fires: a minute of scanning, then its 100 runs. From
    # 1 April on, dateutil scans 23 hours of seconds on each day until next March (the steps
    # count days, not seconds scanned): about 25 ms a day, so over 50 ms on any CPython. The
    # longest pause is the one before the leap day of 2028.
    schedule = RRuleSchedule(rrule="FREQ=SECONDLY;BYMONTH=3;BYHOUR=23")
    now = utc(2026, 3, 31, 22, 59)
    assert _steps(schedule, now) < 300

    with pytest.raises(
        ScheduleBudgetError, match=r"from 2027-04-01T00:00:00Z \(the start of its longest pause"
    ):
        validate_schedule(schedule, now)


@pytest.mark.parametrize(
    ("rule", "timezone", "expected"),
    [
        ("FREQ=SECONDLY;BYDAY=MO", "UTC", [(utc(2026, 3, 3), "pause")]),
        ("FREQ=SECONDLY;BYDAY=MO", "Europe/Berlin", [(utc(2026, 3, 2, 23), "pause")]),
        # February every year: the longest pause follows 28 February; the longest walk to
        # three firing days starts on the 22nd, as planning from there lists the rest of
        # February within its horizon and then walks to the next one.
        (
            "FREQ=MINUTELY;BYMONTH=2",
            "UTC",
            [(utc(2027, 3, 1), "pause"), (utc(2027, 2, 22), "walk")],
        ),
        (
            "DTSTART:20260302T000000\nRRULE:FREQ=DAILY;INTERVAL=2;BYDAY=MO",
            "UTC",
            [(utc(2026, 3, 3), "pause")],
        ),
        (
            "RRULE:FREQ=HOURLY;BYDAY=SA\nEXRULE:FREQ=SECONDLY;BYMONTH=6,7",
            "UTC",
            [(utc(2026, 3, 8), "pause"), (utc(2026, 6, 1), "EXRULE")],
        ),
        ("FREQ=SECONDLY;BYHOUR=5", "UTC", []),  # every day fires: no pause
        ("FREQ=WEEKLY;BYMONTH=2", "UTC", []),  # one period a week, not a day
        ("FREQ=SECONDLY;BYDAY=MO;COUNT=10", "UTC", []),  # listed in full instead
    ],
)
def test_worst_starts_are_where_the_longest_pause_or_exclusion_begins(
    rule: str, timezone: str, expected: list[tuple[datetime, str]]
) -> None:
    rule_set = build_rrule(rule, ZoneInfo(timezone))
    horizon = PlanBounds().horizon

    found = worst_starts(rule_set, NOW, VALIDATION_STEPS.start(), horizon=horizon, runs=3)

    assert [(w.start, _kind(w.why)) for w in found] == expected
    assert all(w.start.tzinfo is UTC for w in found)


def _kind(why: str) -> str:
    return next((kind for kind in ("EXRULE", "walk", "pause") if kind in why), why)


# --- no DST margin, and nothing lost ----------------------------------------------------------

# 2024 transitions (UTC): spring-forward and fall-back in Berlin, New York and Lord Howe
# (a 30-minute shift).
TRANSITIONS = [
    ("Europe/Berlin", utc(2024, 3, 31, 1)),
    ("Europe/Berlin", utc(2024, 10, 27, 1)),
    ("America/New_York", utc(2024, 3, 10, 7)),
    ("America/New_York", utc(2024, 11, 3, 6)),
    ("Australia/Lord_Howe", utc(2024, 4, 6, 15)),
    ("Australia/Lord_Howe", utc(2024, 10, 5, 15, 30)),
]
OFFSETS = [timedelta(seconds=s) for s in (-3 * 3600, -1, 0, 1, 1200, 1800, 3540, 3660, 7200)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MINUTELY;INTERVAL=7",
        "FREQ=HOURLY;BYMINUTE=0,30",
        "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=0,30",
        "FREQ=SECONDLY;INTERVAL=397",
    ],
)
def test_windows_that_start_at_a_dst_change_miss_no_occurrence(rule: str) -> None:
    """Against dateutil's full walk from DTSTART, the day before in the other offset (the
    fast-forward measures wall-clock time, else it would skip the offset difference)."""
    for timezone, transition in TRANSITIONS:
        zone = ZoneInfo(timezone)
        text = f"DTSTART:{(transition - timedelta(days=1)).astimezone(zone):%Y%m%d}T000000\n{rule}"
        schedule = RRuleSchedule(rrule=text, timezone=timezone)
        rule_set = build_rrule(text, zone)
        for offset in OFFSETS:
            after = transition + offset
            until = after + timedelta(hours=26)
            walk = rule_set.between(after - timedelta(days=1), until, inc=True)
            resolved = (resolve_wall_time(o.replace(tzinfo=None), zone)[0] for o in walk)
            expected = sorted({t for t in resolved if after < t <= until})

            assert expected, (timezone, after)
            assert next_times(schedule, after, until, 10_000) == expected, (timezone, after)


def test_a_summer_dtstart_planned_in_winter_loses_no_hour() -> None:
    schedule = RRuleSchedule(
        rrule="DTSTART:20240601T000000\nRRULE:FREQ=MINUTELY", timezone="Europe/Berlin"
    )
    after = utc(2024, 12, 1, 12)

    times = next_times(schedule, after, after + timedelta(hours=2), 1_000)

    assert times == [after + timedelta(minutes=m) for m in range(1, 121)]


def test_the_walk_before_the_window_is_gone() -> None:
    # Planning every second from a Monday noon lists 100 runs: about two steps each.
    cost = _steps(RRuleSchedule(rrule="FREQ=SECONDLY;BYDAY=MO"), NOW + timedelta(days=1))

    assert cost < 300
