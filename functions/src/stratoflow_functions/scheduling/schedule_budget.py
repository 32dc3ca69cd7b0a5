"""How much work evaluating one schedule may take, and the errors a schedule evaluation raises.

Pure orchestration code. A schedule is user input, and the libraries that expand it (dateutil
for rrules, croniter for cron) can search for a very long time when nothing matches: dateutil
walks period after period up to the year 9999 for `FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30`, and
never stops for `INTERVAL=0`. Every evaluation therefore carries a `Budget`: a number of steps
(a candidate instant, or one period dateutil examined) and a time limit on the calling
thread's CPU clock (`cpu_clock`; the caller may pass another). The step count makes the bound
deterministic; the time limit covers steps that cost more than others. It is CPU time, not wall
time, so that a busy machine (other threads of the local stack, a loaded CI runner, a GC pause
in another thread) never makes a schedule over budget that is within it on an idle one.
Spending past either raises `ScheduleBudgetError`.

The API validates by planning the schedule from now and from the starts where planning it
costs the most (`worst_starts`), each plan on a `VALIDATION_BUDGET`, a quarter of the
scheduler's `PLANNING_BUDGET`, all of them within `VALIDATION_TOTAL_BUDGET`: so anything
accepted is planned with room to spare whenever the scheduler plans it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "DEPLOYMENT_PLANNING_BUDGET",
    "PLANNING_BUDGET",
    "VALIDATION_BUDGET",
    "VALIDATION_TOTAL_BUDGET",
    "Budget",
    "BudgetSpec",
    "Clock",
    "ScheduleBudgetError",
    "ScheduleError",
    "cpu_clock",
]

Clock = Callable[[], float]

cpu_clock: Clock = time.thread_time
"""The default budget clock: CPU seconds the calling thread has used (never goes back)."""


class ScheduleError(ValueError):
    """A schedule that cannot be planned; the message names the problem.

    Attributes:
        reason: A short slug for logs and metrics: `invalid` (cannot be parsed or evaluated),
            `never_fires` (no occurrence ahead), `over_budget` (see `ScheduleBudgetError`).
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        """Create the error with its message and reason slug."""
        super().__init__(message)
        self.reason = reason


class ScheduleBudgetError(ScheduleError):
    """Evaluating the schedule needed more steps or time than its budget allows.

    Attributes:
        spec: The budget that ran out (a schedule's own, or the larger one it shares).
    """

    def __init__(self, message: str, spec: BudgetSpec) -> None:
        """Create the error; its reason is `over_budget`."""
        super().__init__(message, reason="over_budget")
        self.spec = spec


@dataclass(frozen=True)
class BudgetSpec:
    """The size of a budget: at most `steps` steps and `seconds` of CPU time."""

    steps: int
    seconds: float
    name: str = "budget"
    """How messages call it: `validation budget`, `planning budget`, …"""

    def start(self, clock: Clock = cpu_clock, within: Budget | None = None) -> Budget:
        """A fresh budget of this size whose time starts now on `clock`.

        Args:
            clock: A clock that never goes back, in seconds (`cpu_clock` by default).
            within: A larger budget each step is also spent from (a deployment's, shared by
                its schedules).
        """
        return Budget(self, clock, within)

    def describe(self) -> str:
        """`planning budget of 20,000 steps / 200 ms`, for messages."""
        return f"{self.name} of {self.steps:,} steps / {self.seconds * 1000:.0f} ms"


class Budget:
    """Steps and time left for one schedule evaluation (mutable; one per evaluation)."""

    def __init__(
        self, spec: BudgetSpec, clock: Clock = cpu_clock, within: Budget | None = None
    ) -> None:
        """Start spending `spec` now on `clock` (and from `within`, if given)."""
        self.spec = spec
        self.spent = 0
        self._clock = clock
        self._deadline = clock() + spec.seconds
        self._within = within

    def spend(self, steps: int = 1) -> None:
        """Count `steps` more steps.

        Raises:
            ScheduleBudgetError: The step count or the time limit is exceeded.
        """
        self.spent += steps
        if self.spent > self.spec.steps or self._clock() > self._deadline:
            raise ScheduleBudgetError(
                f"evaluating it takes more than the {self.spec.describe()}", self.spec
            )
        if self._within is not None:
            self._within.spend(steps)


PLANNING_BUDGET = BudgetSpec(20_000, 0.2, "planning budget")
"""What the scheduler may spend planning one schedule in one tick."""

DEPLOYMENT_PLANNING_BUDGET = BudgetSpec(100_000, 0.5, "deployment's planning budget")
"""What the scheduler may spend on all the schedules of one deployment in one tick (up to 20
schedules share it, so a deployment full of bad schedules costs at most about half a second)."""

VALIDATION_BUDGET = BudgetSpec(5_000, 0.05, "validation budget")
"""What the API may spend on each plan it makes to validate a schedule (from now, and from
each of its worst starts): a quarter of `PLANNING_BUDGET`."""

VALIDATION_TOTAL_BUDGET = BudgetSpec(10_000, 0.1, "validation's total budget")
"""What validating one schedule may spend in all (its plans share it)."""
