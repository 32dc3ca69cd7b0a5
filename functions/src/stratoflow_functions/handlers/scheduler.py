"""Lambda entry point of the scheduler (EventBridge, SPEC 4): thin adapter over `services.towel`.

The local stack calls `handle` on its timer; Lambda calls `handler`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stratoflow_functions.config import Settings
from stratoflow_functions.handlers._towel import invoke, run_tick
from stratoflow_functions.services.towel import SchedulerReport, schedule_runs
from stratoflow_functions.store import Store


def handle(store: Store, settings: Settings, now: datetime) -> SchedulerReport:
    """Run one tick of `schedule_runs` and publish its metrics."""
    return run_tick(schedule_runs, "scheduler", store, settings, now)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: `stratoflow_functions.handlers.scheduler.handler`."""
    return invoke(handle)
