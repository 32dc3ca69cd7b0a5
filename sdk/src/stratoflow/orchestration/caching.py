"""Which task runs feed the result cache, decided once for the server and offline.

`UseCachedResult` answers a RUNNING proposal from the cache; this is the other half: once a
plan that completes a task run is applied, the store puts `cache_entry(run)` in its cache (the
control plane's cache table, or the offline orchestrator's index). Only a run that computed
its result feeds it: a Cached completion was itself read from the cache.
"""

from __future__ import annotations

from stratoflow.schemas import State, StateName, StateType, TaskRun


def cache_entry(run: TaskRun) -> tuple[str, State] | None:
    """The key and state a task run, as stored, puts in the cache; None when it puts nothing.

    A run feeds the cache when its state is COMPLETED (named Completed, not Cached), it has a
    cache key (on the state or the run) and its result was persisted (a reference to read).
    The entry is that state, carrying the key.
    """
    state = run.state
    key = state.cache_key or run.cache_key
    if state.type is not StateType.COMPLETED or state.name != StateName.COMPLETED:
        return None
    if not key or state.result is None:
        return None
    return key, state.model_copy(update={"cache_key": key})


__all__ = ["cache_entry"]
