"""Builders for orchestration tests: states stamped with a fixed clock, contexts, runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stratoflow.orchestration import ProposalContext, Proposer, RunKind, RunView, TagSlots
from stratoflow.schemas import RetryPolicy, State, StateType

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def state(type_: StateType, name: str = "", **fields: Any) -> State:
    """A state stamped at NOW (so no test depends on the real clock)."""
    return State(type=type_, name=name, timestamp=fields.pop("timestamp", NOW), **fields)


def ctx(
    current: State | StateType | None,
    proposed: State | StateType,
    *,
    kind: RunKind = RunKind.FLOW,
    run_count: int = 0,
    retries: int = 0,
    delays: list[float] | None = None,
    flow_run_state: State | StateType | None = None,
    tag_slots: tuple[TagSlots, ...] = (),
    cached: State | None = None,
    control_plane: bool = False,
    on_work_queue: bool = False,
    now: datetime = NOW,
) -> ProposalContext:
    """A proposal context; state types are turned into default-named states."""
    run = RunView(
        kind=kind,
        state=_as_state(current),
        run_count=run_count,
        retry_policy=RetryPolicy(retries=retries, retry_delay_seconds=delays or []),
        on_work_queue=on_work_queue,
    )
    proposal = _as_state(proposed)
    assert proposal is not None
    return ProposalContext(
        run=run,
        proposed=proposal,
        now=now,
        flow_run_state=_as_state(flow_run_state),
        tag_slots=tag_slots,
        cached=cached,
        proposer=Proposer.CONTROL_PLANE if control_plane else Proposer.CLIENT,
    )


def task_ctx(
    current: State | StateType | None, proposed: State | StateType, **kw: Any
) -> ProposalContext:
    """A task-run context whose flow run is RUNNING unless told otherwise."""
    kw.setdefault("flow_run_state", StateType.RUNNING)
    return ctx(current, proposed, kind=RunKind.TASK, **kw)


def _as_state(value: State | StateType | None) -> State | None:
    if value is None or isinstance(value, State):
        return value
    return state(value)
