"""Schedule arithmetic: the UTC instants at which a deployment schedule fires, on a budget.

Pure code in the orchestration layer (no I/O; the caller passes the time window, and the
budget's clock). The scheduler plans with `upcoming_times` (through
`scheduler_plan`); the API calls `validate_schedule`, which runs the same `upcoming_times` on a
quarter of the scheduler's budget (see `schedule_budget`), from now and from the starts where it
costs the most (`worst_starts`), so what is accepted can be planned whenever it is planned.
Every failure is a `ScheduleError` (a `ValueError`) whose message names the schedule and the
problem; the API turns it into a 422, the scheduler logs and counts it and skips the schedule.

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
`TZID=` or `Z` DTSTART keeps its own zone, and UNTIL must then be UTC (RFC 5545); see `rrules`
for how a rule is checked and bounded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter  # type: ignore[import-untyped]

from stratoflow.schemas.flows import CronSchedule, IntervalSchedule, RRuleSchedule, Schedule
from stratoflow_functions.scheduling.rrules import (
    DEFAULT_ANCHOR,
    build_rrule,
    check_rrule_cost,
    quote,
    rrule_occurrences,
    zone,
)
from stratoflow_functions.scheduling.schedule_budget import (
    PLANNING_BUDGET,
    VALIDATION_BUDGET,
    VALIDATION_TOTAL_BUDGET,
    Budget,
    BudgetSpec,
    Clock,
    ScheduleBudgetError,
    ScheduleError,
    cpu_clock,
)
from stratoflow_functions.scheduling.worst_starts import WorstStart, worst_starts

__all__ = [
    "DEFAULT_ANCHOR",
    "LOOKAHEAD",
    "PlanBounds",
    "describe",
    "next_times",
    "resolve_wall_time",
    "upcoming_times",
    "validate_schedule",
    "zone",
]

LOOKAHEAD_YEARS = 25
LOOKAHEAD = timedelta(days=366 * LOOKAHEAD_YEARS)
"""How far `upcoming_times` may look past the horizon for `min_runs` runs of a sparse schedule
(a yearly rrule needs three years for three runs); a schedule with no occurrence this far
ahead is refused by `validate_schedule`."""

_DAY_SECONDS = 86_400
# croniter walks naive wall-clock times: DST shifts are at most 2 h anywhere, so starting this
# far before `after` lets a wall time that repeats later (fall-back) or resolves earlier (gap)
# still be seen; results are filtered anyway. It costs at most 180 minutes of candidates. Rules
# need no margin (see `_rrule_candidates`).
_DST_MARGIN = timedelta(hours=3)
_CRON_FIELDS = 5
# What dateutil, croniter and datetime arithmetic raise on inputs they cannot evaluate (a
# DTSTART in year 9999 west of UTC overflows, for instance).
_EVALUATION_ERRORS = (ValueError, TypeError, ArithmeticError, LookupError)

_Candidate = tuple[datetime, datetime | None]
"""A wall time resolved to UTC: its first instant and, if it should fire twice, the second."""


@dataclass(frozen=True)
class PlanBounds:
    """How many runs to plan per schedule: every one within `horizon`, at least `min_runs`
    (even beyond it, up to `LOOKAHEAD`), at most `max_runs`."""

    min_runs: int = 3
    max_runs: int = 100
    horizon: timedelta = timedelta(days=7)


def describe(schedule: Schedule) -> str:
    """The schedule as messages name it: `cron expression '0 2 * * *'`, `rrule '…'`, …"""
    if isinstance(schedule, CronSchedule):
        return f"cron expression {quote(schedule.cron)}"
    if isinstance(schedule, IntervalSchedule):
        return f"interval of {schedule.interval_seconds:g} s"
    return f"rrule {quote(schedule.rrule)}"


def next_times(
    schedule: Schedule,
    after: datetime,
    until: datetime,
    limit: int,
    budget: Budget | None = None,
) -> list[datetime]:
    """The instants at which `schedule` fires in the window `(after, until]`.

    Args:
        schedule: A cron, interval or rrule schedule.
        after: Exclusive lower bound (timezone-aware).
        until: Inclusive upper bound (timezone-aware).
        limit: At most this many instants are returned (the earliest ones).
        budget: What the evaluation may spend; a fresh `PLANNING_BUDGET` by default.

    Returns:
        Strictly increasing, timezone-aware UTC datetimes.

    Raises:
        ValueError: A bound is naive.
        ScheduleError: The schedule is invalid or cannot be evaluated (see `validate_schedule`).
        ScheduleBudgetError: Evaluating it took more than the budget.
    """
    _require_aware(after, "after")
    _require_aware(until, "until")
    if limit <= 0 or until <= after:
        return []
    spend = budget or PLANNING_BUDGET.start()
    try:
        return _collect(_candidates(schedule, after, spend), after, until, limit, spend)
    except ScheduleBudgetError as exc:
        raise ScheduleBudgetError(
            f"{describe(schedule)}: {exc}{_budget_hint(schedule)}", exc.spec
        ) from None
    except ScheduleError:
        raise
    except _EVALUATION_ERRORS as exc:
        raise ScheduleError(f"{describe(schedule)} cannot be evaluated: {exc}") from exc


def upcoming_times(
    schedule: Schedule, now: datetime, bounds: PlanBounds, budget: Budget
) -> list[datetime]:
    """The start times the scheduler plans for `schedule` after `now` (see `PlanBounds`).

    Raises:
        ScheduleError: As `next_times`; both calls share `budget`.
    """
    within = next_times(schedule, now, now + bounds.horizon, bounds.max_runs, budget)
    if len(within) >= bounds.min_runs:
        return within
    return next_times(schedule, now, now + LOOKAHEAD, bounds.min_runs, budget)


def validate_schedule(
    schedule: Schedule,
    now: datetime,
    *,
    budget: BudgetSpec = VALIDATION_BUDGET,
    total: BudgetSpec = VALIDATION_TOTAL_BUDGET,
    clock: Clock = cpu_clock,
) -> None:
    """Check that a schedule can be planned: what the API accepts, the scheduler can plan.

    Parses it and applies the structural checks, lists a COUNT rule's occurrences in full,
    then plans it as the scheduler would (`upcoming_times` with default `PlanBounds`) from
    `now` and from each of its worst starts (`worst_starts`: where an rrule restricted to some
    days pauses longest), since the scheduler plans it from every moment it exists. Each of
    these gets a fresh `budget`, a quarter of the scheduler's by default, all within `total`.

    Args:
        schedule: The schedule to check.
        now: The time it is validated at (timezone-aware).
        budget: What each plan (and the COUNT listing) may spend.
        total: What the whole check may spend.
        clock: The clock the budgets' time limits run on (the thread's CPU time by default).

    Raises:
        ScheduleError: The timezone is unknown; the cron expression or rrule is malformed or
            can never fire; it has no occurrence within `LOOKAHEAD` after `now` (an UNTIL or
            COUNT already over, a far DTSTART); or planning it, from now or from a worst start,
            takes more than the budget. The message names the schedule and the problem (and
            the start); `reason` classifies it.
    """
    shared = total.start(clock)
    try:
        _check_definition(schedule, budget.start(clock, shared))
    except ScheduleError:
        raise
    except _EVALUATION_ERRORS as exc:
        raise ScheduleError(f"{describe(schedule)} cannot be evaluated: {exc}") from exc
    if not upcoming_times(schedule, now, PlanBounds(), budget.start(clock, shared)):
        raise ScheduleError(
            f"{describe(schedule)} has no occurrence in the {LOOKAHEAD_YEARS} years after "
            f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} (is its UNTIL or COUNT already over?)",
            reason="never_fires",
        )
    for worst in _worst_starts(schedule, now, budget.start(clock, shared)):
        _plan_from(schedule, worst, budget.start(clock, shared))


def _worst_starts(schedule: Schedule, now: datetime, budget: Budget) -> list[WorstStart]:
    """Where planning an rrule costs the most (cron and interval costs do not depend on it)."""
    if not isinstance(schedule, RRuleSchedule):
        return []
    rule = build_rrule(schedule.rrule, zone(schedule.timezone))
    bounds = PlanBounds()
    try:
        return worst_starts(rule, now, budget, horizon=bounds.horizon, runs=bounds.min_runs)
    except ScheduleBudgetError as exc:
        raise ScheduleBudgetError(
            f"{describe(schedule)}: listing the days it fires on: {exc}", exc.spec
        ) from None


def _plan_from(schedule: Schedule, worst: WorstStart, budget: Budget) -> None:
    """Plan as the scheduler would from `worst`; over budget, say where and what to do."""
    try:
        upcoming_times(schedule, worst.start, PlanBounds(), budget)
    except ScheduleBudgetError as exc:
        raise ScheduleBudgetError(
            f"{describe(schedule)}: planning it from {worst.start:%Y-%m-%dT%H:%M:%SZ} "
            f"({worst.why}) takes more than the {exc.spec.describe()}, and so would every "
            "tick in that pause: it fires too rarely for its FREQ, whose periods the scheduler "
            "walks one by one until the next firing; use a coarser FREQ (DAILY or HOURLY, with "
            "BYHOUR / BYMINUTE / BYSECOND for the times of day)",
            exc.spec,
        ) from None


def _budget_hint(schedule: Schedule) -> str:
    if isinstance(schedule, RRuleSchedule):
        return "; it may never match, or match too rarely for its FREQ (try a coarser FREQ)"
    return ""


def _check_definition(schedule: Schedule, budget: Budget) -> None:
    """The checks `next_times` cannot make: a cron that never matches, a COUNT rule's cost."""
    tz = zone(schedule.timezone)
    if isinstance(schedule, CronSchedule):
        _check_cron(schedule)
    elif isinstance(schedule, RRuleSchedule):
        check_rrule_cost(build_rrule(schedule.rrule, tz), schedule.rrule, budget)


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


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _collect(
    candidates: Iterable[_Candidate],
    after: datetime,
    until: datetime,
    limit: int,
    budget: Budget,
) -> list[datetime]:
    """Gather the earliest `limit` instants in `(after, until]` from time-ordered candidates.

    Candidates arrive in wall-clock order, so first instants never decrease but a repeated
    hour's second instants can come later than the next candidate's first: hence a set,
    sorted at the end, and stopping only once no later candidate can displace what we have.
    Each candidate spends a budget step: a rule that keeps yielding the same instant (dateutil
    at `INTERVAL=0`) or instants before `after` stops there.
    """
    found: set[datetime] = set()
    for first, second in candidates:
        budget.spend()
        if first > until or _is_settled(found, limit, first):
            break
        found.update(t for t in (first, second) if t is not None and after < t <= until)
    return sorted(found)[:limit]


def _is_settled(found: set[datetime], limit: int, next_first: datetime) -> bool:
    return len(found) >= limit and sorted(found)[limit - 1] <= next_first


def _candidates(schedule: Schedule, after: datetime, budget: Budget) -> Iterator[_Candidate]:
    if isinstance(schedule, CronSchedule):
        return _cron_candidates(schedule, after)
    if isinstance(schedule, IntervalSchedule):
        return _interval_candidates(schedule, after)
    return _rrule_candidates(schedule, after, budget)


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
        raise ScheduleError(f"invalid cron expression {quote(expression)}: {exc}") from exc
    if len(fields) != _CRON_FIELDS:
        raise ScheduleError(
            f"invalid cron expression {quote(expression)}: expected 5 fields "
            "(minute hour day-of-month month day-of-week)"
        )
    return list(fields)


def _check_cron(schedule: CronSchedule) -> None:
    _expand_cron(schedule.cron)
    try:
        croniter(schedule.cron, DEFAULT_ANCHOR, day_or=schedule.day_or).get_next(datetime)
    except CroniterBadDateError as exc:
        raise ScheduleError(
            f"invalid cron expression {quote(schedule.cron)}: it never matches a date",
            reason="never_fires",
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


def _rrule_candidates(
    schedule: RRuleSchedule, after: datetime, budget: Budget
) -> Iterator[_Candidate]:
    tz = zone(schedule.timezone)
    rule = build_rrule(schedule.rrule, tz)
    # No DST margin: dateutil compares each occurrence with `after` as an instant, at its
    # fold=0 offset, which is never earlier than the instant it resolves to (the same, or a
    # gap's transition before it), and the fast-forward keeps every occurrence whose wall time
    # is after `after`'s. A margin walks every occurrence in it: 10,800 steps for 3 h of
    # FREQ=SECONDLY, when those 3 h are inside a firing day.
    for occurrence in rrule_occurrences(rule, after.astimezone(UTC), budget):
        wall = occurrence.replace(tzinfo=None)
        yield resolve_wall_time(wall, occurrence.tzinfo or tz)[0], None
