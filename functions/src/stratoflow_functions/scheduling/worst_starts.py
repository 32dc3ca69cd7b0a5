"""Where planning a rule costs the most: the start of its longest pause between firings.

Pure orchestration code, used by `schedules.validate_schedule`. What planning costs depends on
when it starts. A daily or finer rule restricted to some days (BYMONTH, BYMONTHDAY, BYYEARDAY,
BYWEEKNO, BYDAY, BYEASTER) finds its runs at once from just before a firing day, but from the
day after the last firing before a long pause dateutil walks the pause day by day, and every
day can cost a second-by-second scan (`FREQ=SECONDLY;BYHOUR=23;BYDAY=MO` scans 23 hours of
each non-Monday). The API validates at one moment while the scheduler plans every minute for
years, so validation also plans from the worst starts found here. The days on which each such
rule can fire in the `SURVEY` ahead are listed with dateutil itself (one yearly rule with the
same day parts, so the day filter is dateutil's own), and two starts are taken from them: the
midnight after the firing day that precedes the longest pause (the worst start when a firing
day holds all the runs planning wants), and the one from which planning walks farthest to find
its next few firing days (the worst when each fires once). For an EXRULE, the start is the
first day of its longest run of excluded days, where the walk skips the most occurrences.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from dateutil.rrule import DAILY, HOURLY, MINUTELY, SECONDLY, YEARLY, rrule, rrulebase, rruleset

from stratoflow_functions.scheduling.rrules import metered
from stratoflow_functions.scheduling.schedule_budget import Budget

__all__ = ["SURVEY", "WorstStart", "worst_starts"]

SURVEY = timedelta(days=366 * 9)
"""How far ahead firing days are listed: longer than the longest regular pause of a calendar
rule (a leap day's 4 years, an ISO week 53's 6). A pause that runs past it is still probed
from its start, if that start is inside."""

# Rules whose every day is a period: dateutil examines each day of a pause.
_DAY_WALKERS = frozenset({DAILY, HOURLY, MINUTELY, SECONDLY})
_DAY_PARTS = ("_bymonth", "_bymonthday", "_bynmonthday", "_byyearday", "_byweekno", "_byweekday")
_ALL_WEEKDAYS = tuple(range(7))
_PAUSE = "the start of its longest pause between firing days"
_WALK = "the start of its longest walk to {runs} firing days"
_EXCLUSION = "the first day of its EXRULE's longest run of excluded days"


@dataclass(frozen=True)
class WorstStart:
    """A start to plan from, and why it is among the worst (for messages)."""

    start: datetime
    why: str


def worst_starts(
    rule: rrulebase, now: datetime, budget: Budget, *, horizon: timedelta, runs: int
) -> list[WorstStart]:
    """The starts after `now` from which planning `rule` walks the longest.

    Args:
        rule: A rule from `rrules.build_rrule`.
        now: Where the survey of firing days begins (timezone-aware).
        budget: Spent while listing the days (one step per year examined).
        horizon: How far ahead planning lists every run (`PlanBounds.horizon`).
        runs: How many runs planning looks for at least (`PlanBounds.min_runs`).

    Returns:
        Up to two starts per RRULE (its longest pause first) and one per EXRULE that walks
        day by day and is restricted to some days, in UTC, each start once.
    """
    found: dict[datetime, str] = {}
    for member, excluding in _day_walkers(rule):
        first, last = _survey(vars(member), now)
        days = _firing_days(member, first, last, budget)
        if not days:
            continue
        zone = vars(member)["_dtstart"].tzinfo
        if excluding:
            candidates = [(_longest_run(days), _EXCLUSION)]
        else:
            end = last.toordinal() + 1
            candidates = [
                (_longest_gap(days, end) + 1, _PAUSE),
                (_longest_walk(days, end, horizon.days, runs) + 1, _WALK.format(runs=runs)),
            ]
        for day, why in candidates:
            with contextlib.suppress(OverflowError, ValueError):  # the end of time: no start
                found.setdefault(_midnight(day, zone), why)
    return [WorstStart(start, why) for start, why in found.items()]


def _day_walkers(rule: rrulebase) -> list[tuple[rrule, bool]]:
    """The RRULEs (False) and EXRULEs (True) whose planning walks a pause day by day."""
    if isinstance(rule, rruleset):
        state = vars(rule)
        members = [(m, False) for m in state["_rrule"]] + [(m, True) for m in state["_exrule"]]
    else:
        members = [(rule, False)] if isinstance(rule, rrule) else []
    return [(member, excluding) for member, excluding in members if _walks_days(vars(member))]


def _walks_days(state: dict[str, Any]) -> bool:
    # A COUNT rule is listed in full at validation (`check_rrule_cost`): no start costs more.
    restricted = any(state[part] for part in _DAY_PARTS) or state["_byeaster"]
    return state["_freq"] in _DAY_WALKERS and state["_count"] is None and bool(restricted)


def _firing_days(member: rrule, first: date, last: date, budget: Budget) -> list[int]:
    """The ordinals of the wall-clock days from `first` to `last` on which `member` can fire.

    The yearly rule filters days exactly as `member` does (dateutil drops BYDAY ordinals for
    daily and finer rules, so plain weekdays are the same filter); every weekday is listed
    when BYDAY is not, which also stops dateutil defaulting a yearly rule to DTSTART's date.
    """
    state = vars(member)
    if first > last:
        return []
    weekdays = state["_byweekday"] or _ALL_WEEKDAYS
    days = rrule(
        YEARLY, dtstart=datetime.combine(first, time()), until=datetime.combine(last, time()),
        bymonth=state["_bymonth"], bymonthday=_month_days(state), byyearday=state["_byyearday"],
        byweekno=state["_byweekno"], byweekday=weekdays, byeaster=state["_byeaster"],
        wkst=state["_wkst"], byhour=0, byminute=0, bysecond=0,
    )  # fmt: skip
    ordinals = [day.toordinal() for day in metered(days, budget)]
    return _on_lattice(ordinals, state)


def _survey(state: dict[str, Any], now: datetime) -> tuple[date, date]:
    """The wall-clock days to survey: from now (or DTSTART) for `SURVEY`, not past UNTIL."""
    start: datetime = state["_dtstart"]
    first = max(now.astimezone(start.tzinfo).date(), start.date())
    last = date.fromordinal(min(first.toordinal() + SURVEY.days, date.max.toordinal()))
    until: datetime | None = state["_until"]
    return first, last if until is None else min(last, until.date())


def _month_days(state: dict[str, Any]) -> tuple[int, ...] | None:
    return (*state["_bymonthday"], *state["_bynmonthday"]) or None


def _on_lattice(ordinals: list[int], state: dict[str, Any]) -> list[int]:
    """Only the days a daily rule's INTERVAL reaches (finer rules reach every day, or nearly)."""
    interval: int = state["_interval"]
    if state["_freq"] != DAILY or interval == 1:
        return ordinals
    phase = state["_dtstart"].toordinal()
    return [day for day in ordinals if (day - phase) % interval == 0]


def _longest_gap(days: list[int], end: int) -> int:
    """The firing day followed by the longest pause (`end`: the day after the survey).

    Planning from the day after it walks the whole pause, however many runs a firing day has.
    """
    gaps = zip(days, [*days[1:], end], strict=True)
    return max(gaps, key=lambda gap: gap[1] - gap[0])[0]


def _longest_walk(days: list[int], end: int, horizon_days: int, runs: int) -> int:
    """The firing day after which planning walks farthest when each day fires once.

    Planning from the day after `days[i]` walks to the first firing day past its horizon, and
    (when the horizon held too few runs) to the `runs`-th firing day. A walk that leaves the
    survey is counted to its end, which never makes it longer than it is: so the days just
    before the end cannot outrank a real walk, and one that starts in the survey and runs
    past it still does.
    """
    best, longest, past = days[0], -1, 0
    for index, day in enumerate(days):
        while past < len(days) and days[past] <= day + horizon_days:
            past += 1
        beyond = days[past] if past < len(days) else end
        enough = days[index + runs] if index + runs < len(days) else end
        if max(beyond, enough) - day > longest:
            best, longest = day, max(beyond, enough) - day
    return best


def _longest_run(days: list[int]) -> int:
    """The first day of the longest run of consecutive days."""
    best, longest, run_start = days[0], 0, days[0]
    for previous, day in zip([days[0] - 2, *days], days, strict=False):
        if day != previous + 1:
            run_start = day
        if day - run_start + 1 > longest:
            best, longest = run_start, day - run_start + 1
    return best


def _midnight(ordinal: int, zone: tzinfo | None) -> datetime:
    """The UTC instant of a wall-clock day's midnight in `zone`."""
    return datetime.combine(date.fromordinal(ordinal), time(), tzinfo=zone).astimezone(UTC)
