"""The names a launch goes by: the execution's (one per run and resurrection, so a repeated
start is a no-op) and the agent id the launcher claims runs as (one per infrastructure)."""

from __future__ import annotations

from uuid import UUID, uuid5

from stratoflow.schemas import FlowRun, InfrastructureType

_LAUNCHER_NAMESPACE = UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
"""RFC 4122's DNS namespace: the agent ids are uuid5 names within it."""


def execution_name(run: FlowRun) -> str:
    """The run id, or `<run id>-r<N>` after N resurrections: Lazarus reschedules the same
    run, and an execution name is unique per state machine (for 90 days after it ends)."""
    if run.resurrections:
        return f"{run.id}-r{run.resurrections}"
    return str(run.id)


def launcher_agent_id(infrastructure: InfrastructureType) -> UUID:
    """The agent id runs launched on `infrastructure` are claimed under."""
    return uuid5(_LAUNCHER_NAMESPACE, f"stratoflow-launcher:{infrastructure.value}")
