"""The names dispatch and cancel agree on (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from stratoflow.schemas import FlowRun, InfrastructureType, State, StateType
from stratoflow_functions.launchers.names import execution_arn, execution_name, launcher_agent_id

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:stratoflow-ecs-launcher"


def run(resurrections: int) -> FlowRun:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    return FlowRun(
        id=UUID("5f0c6d2e-8a4b-4c1e-9d3f-2b7a1e6c9d40"),
        name="r",
        flow_id=uuid4(),
        state=State(type=StateType.SCHEDULED, timestamp=now),
        resurrections=resurrections,
        created=now,
        updated=now,
    )


def test_execution_names_are_the_run_id_then_one_per_resurrection() -> None:
    assert execution_name(run(0)) == "5f0c6d2e-8a4b-4c1e-9d3f-2b7a1e6c9d40"
    assert execution_name(run(2)) == "5f0c6d2e-8a4b-4c1e-9d3f-2b7a1e6c9d40-r2"
    assert len(execution_name(run(99))) <= 80, "Step Functions' limit on names"


def test_execution_arns_follow_the_state_machine_arn() -> None:
    assert execution_arn(MACHINE, "abc") == (
        "arn:aws:states:us-east-1:123456789012:execution:stratoflow-ecs-launcher:abc"
    )
    with pytest.raises(ValueError, match="not a state machine ARN"):
        execution_arn("arn:aws:lambda:us-east-1:123456789012:function:f", "abc")


def test_launcher_agent_ids_are_stable_and_one_per_infrastructure() -> None:
    ids = {kind: launcher_agent_id(kind) for kind in InfrastructureType}
    assert len(set(ids.values())) == len(ids)
    assert launcher_agent_id(InfrastructureType.ECS) == ids[InfrastructureType.ECS]
    assert ids[InfrastructureType.ECS].version == 5
