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
