"""Schedule arithmetic: the UTC instants at which a deployment schedule fires.

Pure code in the orchestration layer (no I/O, no clock: callers pass the time window). The
scheduler service asks `scheduler_plan.plan_runs`, which asks `next_times` here; the API calls
`validate_schedule` before it stores a schedule and turns the `ValueError` into a 422.

Every schedule type produces *wall-clock* candidates in its timezone, and one resolver maps a
wall-clock time to UTC, so DST is handled the same way everywhere:

* a wall time in a spring-forward gap fires once, at the first valid instant after the gap
  (the transition itself: `0 2 * * *` in Europe/Berlin on 2024-03-31 fires at 03:00 CEST,
  01:00 UTC), the way Vixie cron catches up on skipped jobs;
* a wall time that repeats on fall-back day fires once, at its first occurrence, except for
  cron expressions whose hour field covers every hour (`*/15 * * * *`, `0 * * * *`): those fire
  in the repeated hour too, so an hourly or faster cadence never stalls for an hour.

Interval schedules count whole steps from `anchor_date` (default 2020-01-01 00:00 in the
schedule's timezone; the anchor only fixes the phase, steps before it count too). An interval
that is a whole number of days keeps the anchor's wall-clock time across DST; any other
interval is a fixed number of seconds. RRules are evaluated with dateutil from DTSTART (the
rule's own, else the default anchor): a floating DTSTART is read in the schedule's timezone, a
`TZID=` or `Z` DTSTART keeps its own zone, and UNTIL must then be UTC (RFC 5545).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter  # type: ignore[import-untyped]
from dateutil.rrule import HOURLY, MINUTELY, SECONDLY, rrule, rrulebase, rrulestr

from stratoflow.schemas.flows import CronSchedule, IntervalSchedule, RRuleSchedule, Schedule

__all__ = [
    "DEFAULT_ANCHOR",
    "build_rrule",
    "next_times",
    "resolve_wall_time",
    "validate_schedule",
    "zone",
]

DEFAULT_ANCHOR = datetime(2020, 1, 1)
"""Naive on purpose: read as wall-clock time in each schedule's own timezone."""

_DAY_SECONDS = 86_400
# DST shifts are at most 2 h anywhere; starting this far before `after` lets a wall time that
# repeats later (fall-back) or resolves earlier (gap) still be seen. Results are filtered anyway.
_DST_MARGIN = timedelta(hours=3)
_CRON_FIELDS = 5
_FLOATING_DTSTART = re.compile(r"^DTSTART:(\d{8}T\d{6})\s*$", re.IGNORECASE | re.MULTILINE)
_SUBDAILY_UNITS = {
    HOURLY: timedelta(hours=1),
    MINUTELY: timedelta(minutes=1),
    SECONDLY: timedelta(seconds=1),
}

_Candidate = tuple[datetime, datetime | None]
"""A wall time resolved to UTC: its first instant and, if it should fire twice, the second."""


def zone(name: str) -> ZoneInfo:
    """Look up an IANA timezone.

    Args:
        name: An IANA name such as `Europe/Berlin`.

    Returns:
        The zone.

    Raises:
        ValueError: The name is not a known IANA timezone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {name!r}") from exc


def next_times(schedule: Schedule, after: datetime, until: datetime, limit: int) -> list[datetime]:
    """The instants at which `schedule` fires in the window `(after, until]`.

    Args:
        schedule: A cron, interval or rrule schedule.
        after: Exclusive lower bound (timezone-aware).
        until: Inclusive upper bound (timezone-aware).
        limit: At most this many instants are returned (the earliest ones).

    Returns:
        Strictly increasing, timezone-aware UTC datetimes.

    Raises:
        ValueError: A bound is naive, or the schedule is invalid (see `validate_schedule`).
    """
    _require_aware(after, "after")
    _require_aware(until, "until")
    if limit <= 0 or until <= after:
        return []
    return _collect(_candidates(schedule, after), after, until, limit)


def validate_schedule(schedule: Schedule) -> None:
    """Check that a schedule can be evaluated.

    Args:
        schedule: The schedule to check.

    Raises:
        ValueError: The timezone is unknown, the cron expression is malformed or can never
            fire, or the rrule cannot be parsed; the message says which and why.
    """
    tz = zone(schedule.timezone)
    if isinstance(schedule, CronSchedule):
        _check_cron(schedule)
    elif isinstance(schedule, RRuleSchedule):
        build_rrule(schedule.rrule, tz)


def resolve_wall_time(wall: datetime, tz: tzinfo) -> _Candidate:
    """Map a naive local wall-clock time to UTC, DST-correctly.

    Args:
        wall: A naive datetime read in `tz`.
        tz: The timezone (PEP 495 `fold`-aware, as `zoneinfo` is).

    Returns:
        `(instant, None)` for an ordinary time; `(transition, None)` for a time inside a
        spring-forward gap (the first valid instant after it); `(first, second)` for a time
        that occurs twice on fall-back day.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return first, None
    if first > second:
        # In a gap fold=0 uses the offset before the jump and fold=1 the one after, so the
        # order is inverted; the transition lies between them.
        return _transition_between(second, first, tz), None
    return first, second


def build_rrule(text: str, tz: ZoneInfo) -> rrulebase:
    """Parse an RFC 5545 rule the way `next_times` evaluates it.

    Args:
        text: An `RRULE` (optionally with `DTSTART`, `RDATE`, `EXDATE`, `EXRULE` lines).
        tz: The schedule's timezone: floating times and the default DTSTART are read in it.

    Returns:
        The dateutil rule (or rule set).

    Raises:
        ValueError: The rule cannot be parsed; the message quotes it and dateutil's reason.
    """
    zoned = _FLOATING_DTSTART.sub(lambda match: f"DTSTART;TZID={tz.key}:{match[1]}", text)
    default_start = DEFAULT_ANCHOR.replace(tzinfo=tz)
    try:
        return rrulestr(zoned, dtstart=default_start, unfold=True, tzids=zone)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"invalid rrule {text!r}: {exc}") from exc


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _collect(
    candidates: Iterable[_Candidate], after: datetime, until: datetime, limit: int
) -> list[datetime]:
    """Gather the earliest `limit` instants in `(after, until]` from time-ordered candidates.

    Candidates arrive in wall-clock order, so first instants never decrease but a repeated
    hour's second instants can come later than the next candidate's first: hence a set,
    sorted at the end, and stopping only once no later candidate can displace what we have.
    """
    found: set[datetime] = set()
    for first, second in candidates:
        if first > until or _is_settled(found, limit, first):
            break
        found.update(t for t in (first, second) if t is not None and after < t <= until)
    return sorted(found)[:limit]


def _is_settled(found: set[datetime], limit: int, next_first: datetime) -> bool:
    return len(found) >= limit and sorted(found)[limit - 1] <= next_first


def _candidates(schedule: Schedule, after: datetime) -> Iterator[_Candidate]:
    if isinstance(schedule, CronSchedule):
        return _cron_candidates(schedule, after)
    if isinstance(schedule, IntervalSchedule):
        return _interval_candidates(schedule, after)
    return _rrule_candidates(schedule, after)


def _transition_between(before: datetime, after: datetime, tz: tzinfo) -> datetime:
    """The UTC instant in `(before, after]` where `tz` changes offset (whole-second search)."""
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    offset_before = datetime.fromtimestamp(low, tz).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


# --- cron -------------------------------------------------------------------------------------


def _expand_cron(expression: str) -> list[list[int | str]]:
    try:
        fields, _ = croniter.expand(expression)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc
    if len(fields) != _CRON_FIELDS:
        raise ValueError(
            f"invalid cron expression {expression!r}: expected 5 fields "
            "(minute hour day-of-month month day-of-week)"
        )
    return list(fields)


def _check_cron(schedule: CronSchedule) -> None:
    _expand_cron(schedule.cron)
    try:
        croniter(schedule.cron, DEFAULT_ANCHOR, day_or=schedule.day_or).get_next(datetime)
    except CroniterBadDateError as exc:
        raise ValueError(
            f"invalid cron expression {schedule.cron!r}: it never matches a date"
        ) from exc


def _cron_candidates(schedule: CronSchedule, after: datetime) -> Iterator[_Candidate]:
    tz = zone(schedule.timezone)
    every_hour = _expand_cron(schedule.cron)[1] == ["*"]
    start = (after - _DST_MARGIN).astimezone(tz).replace(tzinfo=None)
    # croniter is fed naive wall-clock times: with aware ones it fires twice on fall-back day.
    walls = croniter(schedule.cron, start, day_or=schedule.day_or)
    while True:
        try:
            wall: datetime = walls.get_next(datetime)
        except CroniterBadDateError:
            return
        first, second = resolve_wall_time(wall, tz)
        yield first, second if every_hour else None


# --- interval ---------------------------------------------------------------------------------


def _anchor(schedule: IntervalSchedule, tz: ZoneInfo) -> datetime:
    anchor = schedule.anchor_date
    if anchor is None or anchor.tzinfo is None:
        return resolve_wall_time(anchor or DEFAULT_ANCHOR, tz)[0]
    return anchor.astimezone(UTC)


def _interval_candidates(schedule: IntervalSchedule, after: datetime) -> Iterator[_Candidate]:
    tz = zone(schedule.timezone)
    anchor = _anchor(schedule, tz)
    if schedule.interval_seconds % _DAY_SECONDS == 0:
        days = timedelta(days=int(schedule.interval_seconds // _DAY_SECONDS))
        return _wall_clock_steps(anchor.astimezone(tz).replace(tzinfo=None), days, after, tz)
    return _fixed_steps(anchor, timedelta(seconds=schedule.interval_seconds), after)


def _fixed_steps(anchor: datetime, step: timedelta, after: datetime) -> Iterator[_Candidate]:
    index = (after - anchor) // step + 1  # exact: timedelta floor division is integral
    while True:
        yield anchor + index * step, None
        index += 1


def _wall_clock_steps(
    anchor_wall: datetime, step: timedelta, after: datetime, tz: ZoneInfo
) -> Iterator[_Candidate]:
    after_wall = after.astimezone(tz).replace(tzinfo=None)
    index = (after_wall - anchor_wall) // step - 1  # one step back covers any DST offset
    while True:
        yield resolve_wall_time(anchor_wall + index * step, tz)[0], None
        index += 1


# --- rrule ------------------------------------------------------------------------------------


def _rrule_candidates(schedule: RRuleSchedule, after: datetime) -> Iterator[_Candidate]:
    tz = zone(schedule.timezone)
    rule = _fast_forward(build_rrule(schedule.rrule, tz), after)
    for occurrence in rule.xafter(after - _DST_MARGIN):
        wall = occurrence.replace(tzinfo=None)
        yield resolve_wall_time(wall, occurrence.tzinfo or tz)[0], None


def _fast_forward(rule: rrulebase, after: datetime) -> rrulebase:
    """Move a sub-daily rule's DTSTART forward by whole periods, close to `after`.

    dateutil walks every period from DTSTART, so a minutely rule anchored in 2020 would cost
    millions of steps per call. Shifting by whole periods of wall-clock time keeps every
    occurrence after the new start (dateutil's lattice is in wall-clock time too). Rules with
    COUNT and rule sets are left alone: the first depend on DTSTART, the second are opaque.
    dateutil exposes no public accessors for these fields, hence `vars`.
    """
    if not isinstance(rule, rrule) or vars(rule).get("_count") is not None:
        return rule
    unit = _SUBDAILY_UNITS.get(vars(rule).get("_freq", -1))
    if unit is None:
        return rule
    start: datetime = vars(rule)["_dtstart"]
    period = unit * int(vars(rule)["_interval"])
    periods = (after - _DST_MARGIN - start) // period - 1
    if periods <= 0:
        return rule
    return rule.replace(dtstart=start + periods * period)
