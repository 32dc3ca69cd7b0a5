"""Giving back concurrency slots that finished runs still hold.

Slots are taken and given back by separate conditional writes beside the run's own write (a
claim, a tag's RUNNING), so a control plane that dies, or is throttled, between the two can
leave a finished run's id in a slot set: with a limit of 1, that would block a queue,
deployment or tag for good. The zombie killer's tick sweeps them: an id is removed only when
its run is finished (or gone). Runs not yet finished are never touched, so a slot taken an
instant before its run's write is safe; the one race left (a finished flow run retried and
claimed again between the read and the release) can admit one run too many, once.
"""

from __future__ import annotations

from uuid import UUID

from stratoflow_functions.errors import NotFoundError
from stratoflow_functions.services.run_slots import RESERVED_PREFIXES
from stratoflow_functions.store import Store

MAX_LIMITS = 200
"""Limits looked at per tick (one page); deployments with limits beyond this wait a tick."""


def sweep_finished_slots(store: Store, *, max_limits: int = MAX_LIMITS) -> int:
    """Release the slots held by finished runs; returns how many were released."""
    released = 0
    for limit in store.concurrency.list(max_limits, None).items:
        for run_id in limit.active_slots:
            if _finished(store, limit.tag, run_id):
                store.concurrency.release(limit.tag, run_id)
                released += 1
    return released


def _finished(store: Store, tag: str, run_id: UUID) -> bool:
    try:
        if tag.startswith(RESERVED_PREFIXES):
            return store.flow_runs.get(run_id).run.state.is_terminal
        return store.task_runs.get(run_id).run.state.is_terminal
    except NotFoundError:
        return True
