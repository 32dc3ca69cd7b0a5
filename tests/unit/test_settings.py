"""Settings read once from the environment: the slot lease and its default."""

from __future__ import annotations

from stratoflow.orchestration import DEFAULT_LEASE_SECONDS
from stratoflow_functions.config import Settings, load_settings


def test_the_slot_lease_defaults_to_the_kernels_and_reads_its_variable() -> None:
    assert Settings().slot_lease_seconds == DEFAULT_LEASE_SECONDS
    assert load_settings({}).slot_lease_seconds == DEFAULT_LEASE_SECONDS
    assert load_settings({"STRATOFLOW_SLOT_LEASE_SECONDS": "90.5"}).slot_lease_seconds == 90.5
    assert (
        load_settings({"STRATOFLOW_ZOMBIE_THRESHOLD_SECONDS": "60"}).zombie_threshold_seconds == 60
    )


def test_a_boolean_setting_reads_true_and_false_words() -> None:
    from stratoflow_functions.config import load_settings

    assert load_settings({"STRATOFLOW_ECS_ASSIGN_PUBLIC_IP": "true"}).ecs_assign_public_ip is True
    assert load_settings({"STRATOFLOW_ECS_ASSIGN_PUBLIC_IP": "0"}).ecs_assign_public_ip is False
    subnets = load_settings({"STRATOFLOW_ECS_SUBNETS": "subnet-a, subnet-b"}).ecs_subnets
    assert subnets == ("subnet-a", "subnet-b")


def test_a_boolean_setting_that_is_neither_names_the_variable() -> None:
    import pytest

    from stratoflow_functions.config import load_settings

    with pytest.raises(ValueError, match="STRATOFLOW_ECS_ASSIGN_PUBLIC_IP must be true or false"):
        load_settings({"STRATOFLOW_ECS_ASSIGN_PUBLIC_IP": "maybe"})
