"""Towel: the control plane's maintenance services (SPEC 4), each one clock-injected function.

`schedule_runs` (every 60 s) keeps schedules' next runs created, removes runs no schedule
wants, marks Late runs and calls the push `Dispatcher`; `kill_zombies` (every 120 s) crashes or
retries RUNNING runs whose heartbeat stopped and finishes stale CANCELLING runs; `resurrect`
(every 10 min) reschedules stuck PENDING/RUNNING runs a bounded number of times. The Lambda
handlers and the local stack call these with the same settings; see docs/towel.md.
"""

from stratoflow_functions.services.towel.lazarus import LazarusLimits, LazarusReport, resurrect
from stratoflow_functions.services.towel.scheduler import (
    Dispatcher,
    NoDispatch,
    SchedulerLimits,
    SchedulerReport,
    schedule_runs,
)
from stratoflow_functions.services.towel.zombies import ZombieLimits, ZombieReport, kill_zombies

__all__ = [
    "Dispatcher",
    "LazarusLimits",
    "LazarusReport",
    "NoDispatch",
    "SchedulerLimits",
    "SchedulerReport",
    "ZombieLimits",
    "ZombieReport",
    "kill_zombies",
    "resurrect",
    "schedule_runs",
]
