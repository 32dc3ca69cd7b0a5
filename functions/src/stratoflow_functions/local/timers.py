"""The local stack's stand-in for EventBridge schedules: each Towel service on its cadence.

Each job runs once at start and then every `interval` seconds on its own daemon thread, until
`stop()`; a tick that raises is logged and the next tick comes as usual (as a failed Lambda
invocation would be followed by the next scheduled one). The cadences are those of the AWS
stack (scheduler 60 s, zombie killer 120 s, Lazarus 10 min), scaled by `LocalOptions`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from stratoflow.schemas import utcnow
from stratoflow_functions.config import Settings
from stratoflow_functions.store import Store

logger = logging.getLogger(__name__)

SCHEDULER_SECONDS = 60.0
ZOMBIE_KILLER_SECONDS = 120.0
LAZARUS_SECONDS = 600.0
COMPACTION_CHECK_SECONDS = 60.0


@dataclass(frozen=True)
class Cadences:
    """Seconds between ticks of each Towel service."""

    scheduler: float = SCHEDULER_SECONDS
    zombie_killer: float = ZOMBIE_KILLER_SECONDS
    lazarus: float = LAZARUS_SECONDS
    compaction_check: float = COMPACTION_CHECK_SECONDS
    """How often the emulator's log length is checked against the compaction threshold."""

    def scaled(self, factor: float) -> Cadences:
        """Every cadence multiplied by `factor` (tests use a small one)."""
        return Cadences(
            self.scheduler * factor,
            self.zombie_killer * factor,
            self.lazarus * factor,
            self.compaction_check * factor,
        )


@dataclass(frozen=True)
class Job:
    """Something to run every `interval` seconds."""

    name: str
    interval: float
    tick: Callable[[], object]


def towel_jobs(store: Store, settings: Settings, cadences: Cadences) -> list[Job]:
    """The three Towel services as jobs over `store`, each tick at the current time."""
    from stratoflow_functions.launchers.dispatcher import build_dispatcher
    from stratoflow_functions.services.towel import kill_zombies, resurrect, schedule_runs

    def bind(service: Callable[[Store, Settings, datetime], object]) -> Callable[[], object]:
        return lambda: service(store, settings, utcnow())

    # the Lambda's dispatcher, on the emulator's Step Functions (settings name its endpoint)
    dispatcher = build_dispatcher(store, settings)
    return [
        Job("scheduler", cadences.scheduler, bind(partial(schedule_runs, dispatcher=dispatcher))),
        Job("zombie-killer", cadences.zombie_killer, bind(kill_zombies)),
        Job("lazarus", cadences.lazarus, bind(resurrect)),
    ]


class Timers:
    """Runs jobs on their cadence in daemon threads."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start one thread per job (each ticks at once, then on its cadence)."""
        for job in self.jobs:
            thread = threading.Thread(
                target=self._loop, args=(job,), name=f"stratoflow-{job.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _loop(self, job: Job) -> None:
        while not self._stop.is_set():
            run_tick(job)
            self._stop.wait(job.interval)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop ticking; wait for ticks in progress to finish (each is bounded)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout)


def run_tick(job: Job) -> None:
    """Run one tick of `job`, logging what it did or why it failed."""
    try:
        report = job.tick()
    except Exception:  # a failed tick must not stop the cadence (nor the stack)
        logger.exception("%s tick failed", job.name)
        return
    logger.debug("%s tick: %s", job.name, report)
