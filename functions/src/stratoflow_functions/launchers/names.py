"""Names the launchers and their callers agree on: execution names, ARNs, the launcher's agent id.

Pure (no I/O). An execution's name is what makes starting a run idempotent: Step Functions keeps
one execution per name and state machine, so every dispatcher of the same run (two scheduler
ticks, a manual run) asks for the same name and at most one of them starts it.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from stratoflow.schemas import FlowRun, InfrastructureType

STATE_MACHINE_SEGMENT = ":stateMachine:"
EXECUTION_SEGMENT = ":execution:"


def execution_name(run: FlowRun) -> str:
    """The execution that launches `run`: its id, or `<id>-r<N>` after N resurrections.

    Lazarus reschedules the same run (same id) after a crash; the suffix gives the new attempt
    a fresh name, since a name stays taken on its state machine after its execution ended.
    """
    if run.resurrections:
        return f"{run.id}-r{run.resurrections}"
    return str(run.id)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of the execution called `name` of `state_machine_arn`.

    Raises:
        ValueError: `state_machine_arn` is not a state machine ARN.
    """
    prefix, found, machine = state_machine_arn.partition(STATE_MACHINE_SEGMENT)
    if not found or not machine or ":" in machine:
        raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
    return f"{prefix}{EXECUTION_SEGMENT}{machine}:{name}"


def launcher_agent_id(infrastructure: InfrastructureType) -> UUID:
    """The agent id a launcher claims runs of `infrastructure` as (stable across invocations)."""
    return uuid5(NAMESPACE_URL, f"stratoflow-launcher:{infrastructure.value}")
