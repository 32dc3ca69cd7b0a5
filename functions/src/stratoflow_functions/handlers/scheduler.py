"""Lambda entry point of the scheduler (EventBridge, SPEC 4): thin adapter over `services.towel`.

Lambda calls `handler`; the local stack's timer ticks `schedule_runs` with the dispatcher
`build_dispatcher` makes from the same settings. A stack with launchers (`Settings.pushed`)
dispatches due push runs to Step Functions on each tick.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache, partial
from typing import Any

from stratoflow_functions.config import Settings
from stratoflow_functions.handlers._towel import invoke, run_tick, towel_deps
from stratoflow_functions.launchers.dispatcher import build_dispatcher
from stratoflow_functions.services.towel import SchedulerReport, schedule_runs
from stratoflow_functions.services.towel.scheduler import Dispatcher
from stratoflow_functions.store import Store


def handle(
    store: Store, settings: Settings, now: datetime, dispatcher: Dispatcher | None = None
) -> SchedulerReport:
    """Run one tick of `schedule_runs` and publish its metrics.

    Args:
        store: The control plane's store.
        settings: The stack's settings (launcher ARNs among them).
        now: The current time.
        dispatcher: Starts due push runs; by default one built from `settings` (none when
            the stack pushes nothing).
    """
    active = dispatcher if dispatcher is not None else build_dispatcher(store, settings)
    return run_tick(partial(schedule_runs, dispatcher=active), "scheduler", store, settings, now)


@cache
def lambda_dispatcher() -> Dispatcher | None:
    """The dispatcher of this execution environment (one Step Functions client per cold start)."""
    settings, store = towel_deps()
    return build_dispatcher(store, settings)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: `stratoflow_functions.handlers.scheduler.handler`."""
    return invoke(partial(handle, dispatcher=lambda_dispatcher()))
