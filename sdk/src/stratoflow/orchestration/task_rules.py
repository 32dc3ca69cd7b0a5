"""Rules for task runs only: the parent flow must be running, cache hits, tag concurrency.

A task run may start only inside a RUNNING flow run; a cache hit replaces its run with the
cached result; tags with a concurrency limit hand out slots, which the service takes and gives
back with conditional writes as the decision says (`acquire_slots`, `release_slots`).
"""

from __future__ import annotations

from typing import ClassVar

from stratoflow.orchestration.context import Decision, ProposalContext, RunKind, TaskTraits
from stratoflow.orchestration.rules import (
    ALL_STATE_TYPES,
    TransitionRule,
    abort,
    accept_with,
    leaves_running,
    new_state,
    reject,
    wait,
)
from stratoflow.schemas import TERMINAL_STATE_TYPES, State, StateName, StateType

TASK_ONLY: frozenset[RunKind] = frozenset({RunKind.TASK})
TO_RUNNING: frozenset[StateType] = frozenset({StateType.RUNNING})

FLOW_NOT_RUNNING_WAIT_SECONDS = 2.0
"""How long a task waits for its flow run to reach RUNNING before proposing again."""

TAG_SLOT_WAIT_SECONDS = 5.0
"""How long a task waits for a tag's concurrency slot before proposing again."""

_FLOW_STOPPED: frozenset[StateType] = TERMINAL_STATE_TYPES | {StateType.CANCELLING}


class TaskRunsNeedRunningFlow(TransitionRule):
    """A task run may enter RUNNING only while its flow run is RUNNING.

    A cancelling or finished flow run's tasks are never started (ABORT); a flow run that is
    not running yet, or paused, makes the task WAIT.
    """

    KINDS: ClassVar[frozenset[RunKind]] = TASK_ONLY
    TO_STATES: ClassVar[frozenset[StateType]] = TO_RUNNING

    def may_hold_back(self, task: TaskTraits) -> bool:
        """Only when the flow run may not be RUNNING (the engine runs tasks inside it)."""
        return task.flow_stopping

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """ABORT for a stopped flow run, WAIT for one not running yet, else no opinion."""
        flow_state = ctx.flow_run_state
        if flow_state is not None and flow_state.type is StateType.RUNNING:
            return None
        if flow_state is not None and flow_state.type in _FLOW_STOPPED:
            kind = flow_state.type.value.lower()
            return abort(f"flow run is {kind}, task not started")
        described = "unknown" if flow_state is None else flow_state.type.value
        return wait(FLOW_NOT_RUNNING_WAIT_SECONDS, f"flow run is {described}, not RUNNING yet")


class UseCachedResult(TransitionRule):
    """A cache hit turns the task's RUNNING proposal into COMPLETED/Cached with the result."""

    KINDS: ClassVar[frozenset[RunKind]] = TASK_ONLY
    TO_STATES: ClassVar[frozenset[StateType]] = TO_RUNNING

    def may_hold_back(self, task: TaskTraits) -> bool:
        """Only a task run with a cache key can hit the cache."""
        return bool(task.cache_key)

    def applies(self, ctx: ProposalContext) -> bool:
        """Only proposals with a usable cached state."""
        return super().applies(ctx) and _usable(ctx.cached, ctx)

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """REJECT with a Cached state carrying the cached result."""
        cached = ctx.cached
        if cached is None:  # applies() checked it; this narrows the type
            return None
        state = new_state(
            StateType.COMPLETED,
            StateName.CACHED,
            ctx.now,
            f"Cached result for key {cached.cache_key!r}",
            result=cached.result,
            cache_key=cached.cache_key,
            cache_expiration=cached.cache_expiration,
        )
        return reject(state, "cache hit")


def _usable(cached: State | None, ctx: ProposalContext) -> bool:
    """A COMPLETED state that has not expired (the store filters too; this keeps it exact)."""
    if cached is None or cached.type is not StateType.COMPLETED:
        return False
    return cached.cache_expiration is None or cached.cache_expiration > ctx.now


class EnforceTagConcurrency(TransitionRule):
    """A task run entering RUNNING needs a slot of every tag that has a concurrency limit.

    A limit of 0 means the tag may never run (ABORT); a full tag means WAIT; otherwise the
    decision asks the service to take a slot of each limited tag. The service's conditional
    acquire is the real guard: if it loses a race, it answers WAIT itself.
    """

    KINDS: ClassVar[frozenset[RunKind]] = TASK_ONLY
    TO_STATES: ClassVar[frozenset[StateType]] = TO_RUNNING

    def may_hold_back(self, task: TaskTraits) -> bool:
        """Any tag may have a limit (only the server knows which)."""
        return bool(task.tags)

    def applies(self, ctx: ProposalContext) -> bool:
        """Only runs with limited tags."""
        return super().applies(ctx) and bool(ctx.tag_slots)

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """ABORT on a zero limit, WAIT on a full tag, else ACCEPT taking every slot."""
        blocked = [slots.tag for slots in ctx.tag_slots if slots.limit == 0]
        if blocked:
            return abort(f"tag {blocked[0]!r} has a concurrency limit of 0")
        full = [slots.tag for slots in ctx.tag_slots if not slots.available]
        if full:
            return wait(TAG_SLOT_WAIT_SECONDS, f"tag {full[0]!r} is at its concurrency limit")
        return accept_with(acquire_slots=tuple(slots.tag for slots in ctx.tag_slots))


class ReleaseTagSlots(TransitionRule):
    """A task run leaving RUNNING, for any state, gives back every slot it holds."""

    KINDS: ClassVar[frozenset[RunKind]] = TASK_ONLY
    FROM_STATES: ClassVar[frozenset[StateType | None]] = frozenset({StateType.RUNNING})
    TO_STATES: ClassVar[frozenset[StateType]] = ALL_STATE_TYPES - TO_RUNNING

    def evaluate(self, ctx: ProposalContext) -> Decision | None:
        """ACCEPT, releasing slots."""
        return accept_with(release_slots=leaves_running(ctx.run.state, ctx.proposed))


__all__ = [
    "FLOW_NOT_RUNNING_WAIT_SECONDS",
    "TAG_SLOT_WAIT_SECONDS",
    "TASK_ONLY",
    "EnforceTagConcurrency",
    "ReleaseTagSlots",
    "TaskRunsNeedRunningFlow",
    "UseCachedResult",
]
