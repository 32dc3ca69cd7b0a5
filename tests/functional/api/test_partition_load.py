"""The load model (partition_load.py, day_sample.py) over the real API handler: the writes it
counts are the ones a flow run's life must make, sharding divides every shared run index by N
and changes nothing else, and the target day fits under DynamoDB's per-partition limit with
the default shard count, which the unsharded design did not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stratoflow.schemas import FlowRunFilter
from stratoflow_functions.config import Settings
from stratoflow_functions.store.keys import shard_of
from tests.functional.api.day_sample import Sample, measure
from tests.functional.api.partition_load import (
    PARTITION_WCU_LIMIT,
    FamilyLoad,
    Workload,
    capacity,
    family_of,
)

WORKLOAD = Workload(failed_every=3)
"""The target day, with more failures than it assumes, so a small sample holds some."""
DEFAULT = Settings().index_shards


@pytest.fixture(scope="module")
def samples() -> Iterator[dict[int, Sample]]:
    """The sample driven on a table with the default shards, and on one with a single shard
    (every run of a sample does the same, so a few runs give the per-run figures)."""
    from moto import mock_aws

    with mock_aws():
        yield {
            DEFAULT: measure("load-sharded", DEFAULT, 4, WORKLOAD),
            1: measure("load-single", 1, 4, WORKLOAD),
        }


def by_family(sample: Sample) -> dict[str, FamilyLoad]:
    return {load.family: load for load in sample.loads}


def test_each_run_makes_the_writes_its_life_must_make(samples: dict[int, Sample]) -> None:
    loads = by_family(samples[1])
    beats = WORKLOAD.heartbeats_per_run

    def writes(family: str) -> float:
        return loads[family].writes_per_run

    # create, claim, RUNNING, end: four puts of the run; each heartbeat one update.
    assert writes("table FLOW_RUN#{id}") == 4 + beats
    assert not any(family.startswith("table RUN_STATS#") for family in loads)
    assert writes("gsi5 RUNS") == 4 + beats  # every write changes the item: the entry too
    # The heartbeat index: in at RUNNING, each beat moves the sort key (delete + put), out.
    assert writes("gsi1 HEARTBEAT#RUNNING") == 2 + 2 * beats
    assert writes("gsi1 HEARTBEAT#PENDING") == writes("gsi1 QUEUE#default") == 2
    assert writes("gsi4 RUNS#SCHEDULED") == writes("gsi4 RUNS#PENDING") == 2
    assert writes("gsi4 RUNS#RUNNING") == 2 + beats
    assert writes("gsi4 RUNS#COMPLETED") + writes("gsi4 RUNS#FAILED") == pytest.approx(1)
    # The queue's item is written with the deployment that names it; claims only read it.
    assert "table WORK_QUEUE#default" not in loads
    # Each task: its record at RUNNING, again at COMPLETED.
    assert writes("table TASK_RUN#{id}") == 2 * WORKLOAD.tasks_per_run


def test_the_stream_consumer_writes_the_history_and_counters_of_each_state(
    samples: dict[int, Sample],
) -> None:
    consumer = {load.family: load for load in samples[1].consumer_loads}

    # Per stored state (created, PENDING, RUNNING, end): its history item, and one ADD on the
    # counter item of each scope (every run, the flow, the deployment), each in a transaction.
    assert consumer["table FLOW_RUN#{id}"].writes_per_run == 4
    for scope in ("RUNS", "FLOW#{id}", "DEPLOYMENT#{id}"):
        assert consumer[f"table RUN_STATS#{scope}"].writes_per_run == 4
    assert set(consumer) == {
        "table FLOW_RUN#{id}", "table RUN_STATS#RUNS", "table RUN_STATS#FLOW#{id}",
        "table RUN_STATS#DEPLOYMENT#{id}",
    }  # fmt: skip
    assert sum(load.wcu_per_run for load in consumer.values()) == 2 * 4 * 4  # transactions: x2
    assert not consumer["table FLOW_RUN#{id}"].shared
    assert consumer["table RUN_STATS#RUNS"].shared


def test_sharding_splits_the_run_indexes_and_changes_no_other_write(
    samples: dict[int, Sample],
) -> None:
    single, sharded = by_family(samples[1]), by_family(samples[DEFAULT])

    assert {f: load.writes_per_run for f, load in single.items()} == {
        f: load.writes_per_run for f, load in sharded.items()
    }
    for family, load in sharded.items():
        # the shard suffix ("#3") may cost a write unit now and then, never more
        assert abs(load.wcu_per_run - single[family].wcu_per_run) <= 0.5, family

    def all_runs_partitions(sample: Sample) -> set[str]:
        return {p for p in sample.counter.partitions if family_of(p)[0] == "gsi5 RUNS"}

    runs = samples[DEFAULT].store.flow_runs.list(FlowRunFilter(), 10, None).items
    shards = {shard_of(run.id, DEFAULT) for run in runs}
    assert all_runs_partitions(samples[1]) == {"gsi5 RUNS"}  # one shard: the unsharded key
    assert all_runs_partitions(samples[DEFAULT]) == {
        "gsi5 RUNS" if shard == 0 else f"gsi5 RUNS#{shard}" for shard in shards
    }


def test_the_target_day_fits_the_default_shards_and_not_one_partition(
    samples: dict[int, Sample],
) -> None:
    # A sharded family's load splits evenly over its shards: each run's writes go to its own
    # shard (the test above) and run ids spread evenly (tests/functional/store/test_store_shards).
    loads = samples[DEFAULT].loads
    target = Workload()  # 1,000,000 runs of 10 tasks a day, peak hour 3x the mean

    hottest_single = max(load.peak_wcu_per_second(target, 1) for load in loads)
    hottest_sharded = max(load.peak_wcu_per_second(target, DEFAULT) for load in loads)
    family, most = capacity(loads, target, DEFAULT)

    assert hottest_single > PARTITION_WCU_LIMIT  # today's design throttles at the target
    assert hottest_sharded < PARTITION_WCU_LIMIT / 5  # five times headroom over the peak hour
    assert capacity(loads, target, 1)[1] < target.runs_per_day
    assert most > 5 * target.runs_per_day
    assert family == "gsi1 HEARTBEAT#RUNNING"
