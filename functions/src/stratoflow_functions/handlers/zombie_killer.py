"""Lambda entry point of the zombie killer (EventBridge, SPEC 4): thin, over `services.towel`.

The local stack calls `handle` on its timer; Lambda calls `handler`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stratoflow_functions.config import Settings
from stratoflow_functions.handlers._towel import invoke, run_tick
from stratoflow_functions.services.towel import ZombieReport, kill_zombies
from stratoflow_functions.store import Store


def handle(store: Store, settings: Settings, now: datetime) -> ZombieReport:
    """Run one tick of `kill_zombies` and publish its metrics."""
    return run_tick(kill_zombies, "zombie_killer", store, settings, now)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: `stratoflow_functions.handlers.zombie_killer.handler`."""
    return invoke(handle)
