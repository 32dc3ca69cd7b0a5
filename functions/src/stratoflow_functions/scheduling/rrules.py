"""RFC 5545 rules for schedules: parsed with dateutil, normalised, checked, evaluated on a budget.

Pure orchestration code, used by `schedules` (the API's validation and the scheduler's plan go
through the same functions here). Four things make a rule safe to evaluate:

* **One kind of datetime.** A floating DTSTART is read in the schedule's timezone (as is the
  default DTSTART, 2020-01-01 00:00), and floating RDATE / EXDATE values in DTSTART's zone, so
  dateutil never compares a naive datetime with an aware one (the `TypeError` that broke every
  tick for `RRULE:FREQ=DAILY` + `EXDATE:20200101T000000`).
* **Structural checks** on every RRULE and EXRULE: `INTERVAL` at least 1 (dateutil never
  advances at 0) and one period at most 100 years; not both COUNT and UNTIL; a `BYMONTHDAY`
  that can never fall in the `BYMONTH` months (`BYMONTH=2;BYMONTHDAY=30`) is refused by name.
* **Fast-forwarding.** Weekly and finer rules without COUNT start from a DTSTART moved by whole
  periods close to the window, so the cost of a rule does not grow with the years since its
  DTSTART. COUNT rules depend on DTSTART and cannot move: the API therefore requires that all of
  a COUNT rule's occurrences can be listed within the validation budget (`check_rrule_cost`),
  which bounds what planning it can ever cost.
* **Metering.** dateutil searches period after period inside a single `next()` when periods
  are empty, up to the year 9999. Rules are evaluated as `_MeteredRule` copies whose per-period
  attributes (read by dateutil once per examined period: `_byeaster` when it rebuilds a month
  or year, `_wkst` for a week, `_tzinfo` for an hour, minute or second) spend a `Budget` step,
  so that search stops with `ScheduleBudgetError` however long it would have run. These are
  dateutil 2.9 internals; the boundedness tests in tests/unit/scheduling fail (pytest-timeout)
  if a dateutil release stops reading them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import (
    DAILY,
    HOURLY,
    MINUTELY,
    MONTHLY,
    SECONDLY,
    WEEKLY,
    YEARLY,
    rrule,
    rrulebase,
    rruleset,
    rrulestr,
)

from stratoflow_functions.scheduling.schedule_budget import (
    Budget,
    ScheduleBudgetError,
    ScheduleError,
)

__all__ = [
    "DEFAULT_ANCHOR",
    "build_rrule",
    "check_rrule_cost",
    "metered",
    "quote",
    "rrule_occurrences",
    "zone",
]

DEFAULT_ANCHOR = datetime(2020, 1, 1)
"""Naive on purpose: read as wall-clock time in each schedule's own timezone."""

MAX_PERIOD = timedelta(days=366 * 100)
_FLOATING_DTSTART = re.compile(r"^DTSTART:(\d{8}T\d{6})\s*$", re.IGNORECASE | re.MULTILINE)
# The longest a period of each frequency can be; fast-forwarding uses the fixed-length ones.
_PERIOD_UNITS = {
    YEARLY: timedelta(days=366),
    MONTHLY: timedelta(days=31),
    WEEKLY: timedelta(weeks=1),
    DAILY: timedelta(days=1),
    HOURLY: timedelta(hours=1),
    MINUTELY: timedelta(minutes=1),
    SECONDLY: timedelta(seconds=1),
}
_FIXED_LENGTH = frozenset({WEEKLY, DAILY, HOURLY, MINUTELY, SECONDLY})
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# RFC 5545 value ranges; dateutil does not check most of them and fails later, obscurely.
_RANGES = {
    "BYMONTH": (("_bymonth",), 1, 12),
    "BYHOUR": (("_byhour",), 0, 23),
    "BYMINUTE": (("_byminute",), 0, 59),
    "BYSECOND": (("_bysecond",), 0, 59),
    "BYMONTHDAY": (("_bymonthday", "_bynmonthday"), -31, 31),
    "BYYEARDAY": (("_byyearday",), -366, 366),
    "BYWEEKNO": (("_byweekno",), -53, 53),
}
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)

Member = Callable[[rrule], rrule]


def build_rrule(text: str, tz: ZoneInfo) -> rrulebase:
    """Parse and check a rule the way it is evaluated.

    Args:
        text: An `RRULE` (optionally with `DTSTART`, `RDATE`, `EXDATE`, `EXRULE` lines).
        tz: The schedule's timezone: floating times and the default DTSTART are read in it.

    Returns:
        The dateutil rule (or rule set), every datetime in it timezone-aware.

    Raises:
        ScheduleError: The rule cannot be parsed or fails a structural check; the message
            quotes it and says why.
    """
    zoned = _FLOATING_DTSTART.sub(lambda match: f"DTSTART;TZID={tz.key}:{match[1]}", text)
    try:
        parsed = rrulestr(zoned, dtstart=DEFAULT_ANCHOR.replace(tzinfo=tz), unfold=True, tzids=zone)
        rule = _aware(parsed, tz)
    except ScheduleError:
        raise
    except _PARSE_ERRORS as exc:
        raise ScheduleError(f"invalid rrule {quote(text)}: {exc}") from exc
    for member in _members(rule):
        _check_member(vars(member), text)
    return rule


def rrule_occurrences(rule: rrulebase, start: datetime, budget: Budget) -> Iterator[datetime]:
    """The rule's occurrences after `start`, in order, each examined period spending `budget`.

    Args:
        rule: A rule from `build_rrule`.
        start: Exclusive lower bound (timezone-aware).
        budget: Spent per period dateutil examines.

    Yields:
        Aware occurrences, wall-clock in their DTSTART's (or RDATE's) zone.

    Raises:
        ScheduleBudgetError: The budget ran out.
    """
    yield from metered(_fast_forward(rule, start), budget).xafter(start)


def check_rrule_cost(rule: rrulebase, text: str, budget: Budget) -> None:
    """Check that every COUNT rule in `rule` can be listed in full within `budget`.

    Raises:
        ScheduleBudgetError: Listing a COUNT rule's occurrences took more than the budget.
    """
    for member in _members(rule):
        count = vars(member)["_count"]
        if count is None:
            continue
        try:
            for _ in metered(member, budget):
                budget.spend()
        except ScheduleBudgetError as exc:
            raise ScheduleBudgetError(
                f"rrule {quote(text)}: listing its COUNT={count} occurrences takes more than the "
                f"{exc.spec.describe()} (too many, or too rare for its FREQ); "
                "use UNTIL to bound a long rule",
                exc.spec,
            ) from exc


def zone(name: str) -> ZoneInfo:
    """Look up an IANA timezone.

    Args:
        name: An IANA name such as `Europe/Berlin`.

    Returns:
        The zone.

    Raises:
        ScheduleError: The name is not a known IANA timezone (also for names that are folders
            of the tz database, such as `America`, or too long to be a file name).
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(f"unknown IANA timezone {quote(name)}") from exc


def quote(text: str, limit: int = 120) -> str:
    """`text` quoted for a message, shortened past `limit` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _members(rule: rrulebase) -> list[rrule]:
    """The rules of a rule set (RRULEs and EXRULEs), or the rule itself."""
    if isinstance(rule, rruleset):
        state = vars(rule)
        return [*state["_rrule"], *state["_exrule"]]
    return [rule] if isinstance(rule, rrule) else []


def _rebuild(
    rules: rruleset, member: Member, moment: Callable[[datetime], datetime] = lambda d: d
) -> rruleset:
    """A copy of a rule set with `member` applied to its rules and `moment` to its dates."""
    state = vars(rules)
    result = rruleset()
    for included in state["_rrule"]:
        result.rrule(member(included))
    for excluded in state["_exrule"]:
        result.exrule(member(excluded))
    for extra in state["_rdate"]:
        result.rdate(moment(extra))
    for skipped in state["_exdate"]:
        result.exdate(moment(skipped))
    return result


def _map(rule: rrulebase, member: Member) -> rrulebase:
    if isinstance(rule, rruleset):
        return _rebuild(rule, member)
    return member(rule) if isinstance(rule, rrule) else rule


# --- one kind of datetime ---------------------------------------------------------------------


def _aware(rule: rrulebase, tz: ZoneInfo) -> rrulebase:
    """The rule with floating DTSTART / UNTIL / RDATE / EXDATE read in a zone."""
    if not isinstance(rule, rruleset):
        return _map(rule, lambda member: _aware_member(member, tz))
    members = [_aware_member(member, tz) for member in vars(rule)["_rrule"]]
    home: tzinfo = vars(members[0])["_dtstart"].tzinfo if members else tz
    return _rebuild(rule, lambda member: _aware_member(member, tz), lambda d: _attach(d, home))


def _aware_member(member: rrule, tz: ZoneInfo) -> rrule:
    state = vars(member)
    start: datetime = state["_dtstart"]
    if start.tzinfo is not None:
        return member
    until: datetime | None = state["_until"]
    return member.replace(dtstart=_attach(start, tz), until=until and _attach(until, tz))


def _attach(moment: datetime, zone: tzinfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


# --- structural checks ------------------------------------------------------------------------


def _check_member(state: dict[str, Any], text: str) -> None:
    interval: int = state["_interval"]
    prefix = f"invalid rrule {quote(text)}"
    if interval < 1:
        raise ScheduleError(f"{prefix}: INTERVAL must be at least 1, got {interval}")
    if interval > MAX_PERIOD // _PERIOD_UNITS[state["_freq"]]:  # no timedelta overflow
        raise ScheduleError(f"{prefix}: INTERVAL={interval} makes a period over 100 years long")
    if state["_count"] is not None and state["_until"] is not None:
        raise ScheduleError(f"{prefix}: COUNT and UNTIL must not both be given (RFC 5545)")
    _check_ranges(state, prefix)
    _check_month_days(state, text)


def _check_ranges(state: dict[str, Any], prefix: str) -> None:
    for part, (attributes, low, high) in _RANGES.items():
        values = [value for name in attributes for value in state[name] or ()]
        wrong = [v for v in values if not low <= v <= high or (low < 0 and v == 0)]
        if wrong:
            raise ScheduleError(f"{prefix}: {part} must be within {low}..{high}, got {wrong[0]}")
    monthly = state["_freq"] == MONTHLY or (state["_freq"] == YEARLY and state["_bymonth"])
    limit = 5 if monthly else 53
    for _, nth in state["_bynweekday"] or ():
        if not 1 <= abs(nth) <= limit:
            raise ScheduleError(f"{prefix}: BYDAY ordinal {nth} is outside -{limit}..{limit}")


def _check_month_days(state: dict[str, Any], text: str) -> None:
    months: tuple[int, ...] | None = state["_bymonth"]
    days = (*state["_bymonthday"], *(-day for day in state["_bynmonthday"]))
    if not months or not days or state["_byyearday"] or state["_byweekno"]:
        return
    if any(day <= _MONTH_DAYS[month - 1] for month in months for day in days):
        return
    raise ScheduleError(
        f"invalid rrule {quote(text)}: day of month {_listed(days)} never falls in month "
        f"{_listed(months)}, so it never fires",
        reason="never_fires",
    )


def _listed(values: tuple[int, ...]) -> str:
    return ",".join(str(value) for value in sorted(set(values)))


# --- fast-forwarding --------------------------------------------------------------------------


def _fast_forward(rule: rrulebase, start: datetime) -> rrulebase:
    return _map(rule, lambda member: _forward_member(member, start))


def _forward_member(member: rrule, start: datetime) -> rrule:
    """Move a fixed-length-period rule's DTSTART forward by whole periods, close to `start`.

    dateutil walks every period from DTSTART, so a minutely rule anchored in 2020 would cost
    millions of steps per call. Shifting by whole periods of wall-clock time keeps every
    occurrence after the new start (dateutil's lattice, WKST-aligned weeks included, is in
    wall-clock time too, and the defaults it derives from DTSTART keep their values). The
    distance is measured in wall-clock time as well: an occurrence that resolves to an instant
    after `start` has a wall time after `start`'s own (resolving is monotonic), whereas the
    absolute distance from a summer DTSTART to a winter `start` is an hour too long. COUNT
    rules are left alone: they depend on DTSTART.
    """
    state = vars(member)
    if state["_count"] is not None or state["_freq"] not in _FIXED_LENGTH:
        return member
    first: datetime = state["_dtstart"]
    period = _PERIOD_UNITS[state["_freq"]] * int(state["_interval"])
    wall_start = start.astimezone(first.tzinfo).replace(tzinfo=None)
    periods = (wall_start - first.replace(tzinfo=None)) // period - 1
    if periods <= 0:
        return member
    return member.replace(dtstart=first + periods * period)


# --- metering ---------------------------------------------------------------------------------


def _metering(name: str) -> property:
    """A property reading instance attribute `name`, spending one step of the rule's budget."""

    def read(rule: _MeteredRule) -> object:
        state = vars(rule)
        state["_budget"].spend()
        return state[name]

    return property(read)


class _MeteredRule(rrule):
    """A copy of an rrule whose per-period attributes spend its budget (see the module doc)."""

    _byeaster = _metering("_byeaster")
    _wkst = _metering("_wkst")
    _tzinfo = _metering("_tzinfo")


def metered(rule: rrulebase, budget: Budget) -> rrulebase:
    """A copy of `rule` (or of each rule of a set) whose search spends `budget` per period."""

    def copy(member: rrule) -> rrule:
        counted = _MeteredRule.__new__(_MeteredRule)
        vars(counted).update(vars(member), _budget=budget)
        return counted

    return _map(rule, copy)
