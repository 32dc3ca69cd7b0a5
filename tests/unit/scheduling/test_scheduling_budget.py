"""Schedule evaluation is bounded: the budget stops searches that dateutil would run for seconds
or forever, deterministically by steps or by time, per schedule and per deployment.

Each rule below spins inside dateutil's own loop without yielding (measured with plain
dateutil 2.9 from 2026: `FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;BYYEARDAY=60` 8.6 s,
`FREQ=SECONDLY;BYHOUR=5;BYMONTH=2` 3.8 s to its first occurrence, the other two never return),
so without the meter these tests hang until their pytest-timeout fails them.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from stratoflow.schemas.flows import CronSchedule, IntervalSchedule, RRuleSchedule
from stratoflow_functions.scheduling.schedule_budget import (
    Budget,
    BudgetSpec,
    ScheduleBudgetError,
)
from stratoflow_functions.scheduling.scheduler_plan import plan_deployment
from stratoflow_functions.scheduling.schedules import next_times
from tests.unit.scheduling.scheduling_support import (
    OTHER_SCHEDULE_ID,
    SCHEDULE_ID,
    deployment,
    entry,
    utc,
)

NOW = utc(2026, 3, 1, 12)
SPINNING = [
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;BYYEARDAY=60",
    "FREQ=SECONDLY;BYSETPOS=2",
    "RRULE:FREQ=DAILY\nEXRULE:FREQ=DAILY",
    "FREQ=SECONDLY;COUNT=1000000000",
]
# Few steps, each expensive (dateutil's inner loop walks ~80,000 seconds to reach 05:00 each
# day): about 340 steps and 1 s of work, so only the time limit stops it early.
COSTLY_STEPS = "FREQ=SECONDLY;BYHOUR=5;BYMONTH=2"
HOUR = 3600.0
STEPS_ONLY = BudgetSpec(steps=1_000, seconds=HOUR)


class TickingClock:
    """A monotonic clock that moves `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


@pytest.mark.timeout(20)
@pytest.mark.parametrize("rule", SPINNING)
def test_a_step_budget_stops_a_search_that_never_yields(rule: str) -> None:
    budget = STEPS_ONLY.start()
    started = time.monotonic()

    with pytest.raises(ScheduleBudgetError, match="more than the budget of 1,000 steps"):
        next_times(RRuleSchedule(rrule=rule), NOW, NOW + timedelta(days=3650), 3, budget)

    assert budget.spent == STEPS_ONLY.steps + 1  # stopped at the first step over, exactly
    assert time.monotonic() - started < 5


@pytest.mark.timeout(20)
@pytest.mark.parametrize("rule", [*SPINNING, COSTLY_STEPS])
def test_the_time_limit_stops_it_on_the_budget_clock(rule: str) -> None:
    clock = TickingClock(step=0.01)
    budget = BudgetSpec(steps=10**9, seconds=0.5).start(clock)

    with pytest.raises(ScheduleBudgetError, match=r"more than the budget of .* / 500 ms"):
        next_times(RRuleSchedule(rrule=rule), NOW, NOW + timedelta(days=3650), 3, budget)

    assert clock.reads <= 0.5 / 0.01 + 2  # the deadline is read on every step
    assert budget.spent < 100


@pytest.mark.timeout(20)
def test_the_default_planning_budget_returns_within_its_time_limit() -> None:
    started = time.thread_time()

    with pytest.raises(ScheduleBudgetError, match="planning budget of 20,000 steps / 200 ms"):
        next_times(RRuleSchedule(rrule=COSTLY_STEPS), NOW, NOW + timedelta(days=3650), 3)

    assert time.thread_time() - started < 1.0  # 200 ms plus one day of dateutil's inner loop


def test_time_the_thread_spends_off_the_cpu_is_not_spent() -> None:
    """A loaded machine (other threads, other processes) stretches wall time, not the budget:
    on a wall clock this failed a valid `*/10` cron schedule once in CI."""
    budget = BudgetSpec(steps=10, seconds=0.01).start()

    time.sleep(0.05)  # off the CPU for five times the budget's time limit
    budget.spend()

    assert budget.spent == 1


@pytest.mark.parametrize(
    "schedule",
    [CronSchedule(cron="* * * * *"), IntervalSchedule(interval_seconds=1)],
)
def test_every_candidate_of_any_schedule_spends_a_step(
    schedule: CronSchedule | IntervalSchedule,
) -> None:
    budget = BudgetSpec(steps=50, seconds=HOUR).start()

    with pytest.raises(ScheduleBudgetError):
        next_times(schedule, NOW, NOW + timedelta(days=1), 1_000, budget)

    assert budget.spent == 51


def test_one_bad_schedule_costs_its_budget_and_the_next_is_still_planned() -> None:
    bad = entry(RRuleSchedule(rrule=SPINNING[0]), schedule_id=SCHEDULE_ID)
    good = entry(RRuleSchedule(rrule="FREQ=DAILY;BYHOUR=9"), schedule_id=OTHER_SCHEDULE_ID)

    plan = plan_deployment(
        deployment(bad, good),
        NOW,
        budget=STEPS_ONLY,
        deployment_budget=BudgetSpec(steps=100_000, seconds=HOUR),
    )

    assert [(f.schedule_id, f.reason) for f in plan.failures] == [(SCHEDULE_ID, "over_budget")]
    assert {run.schedule_id for run in plan.runs} == {OTHER_SCHEDULE_ID}
    assert len(plan.runs) == 7


def test_the_deployment_budget_bounds_all_its_schedules_together() -> None:
    schedules = [
        entry(RRuleSchedule(rrule=SPINNING[0]), schedule_id=OTHER_SCHEDULE_ID) for _ in range(5)
    ]
    spec = BudgetSpec(steps=2_500, seconds=HOUR, name="deployment budget")

    plan = plan_deployment(deployment(*schedules), NOW, budget=STEPS_ONLY, deployment_budget=spec)

    messages = [failure.message for failure in plan.failures]
    assert len(messages) == 5
    assert sum("1,000 steps" in m for m in messages) == 2  # the first two use their own
    assert all("deployment budget of 2,500 steps" in m for m in messages[2:])


def test_a_budget_counts_and_stops_one_step_over() -> None:
    budget = Budget(BudgetSpec(steps=3, seconds=HOUR))

    for _ in range(3):
        budget.spend()

    with pytest.raises(ScheduleBudgetError, match="budget of 3 steps / 3600000 ms"):
        budget.spend()
