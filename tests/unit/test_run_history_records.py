"""The stream consumer's pure part: a flow-run stream record to its state-history entry and
counter deltas (old state/bucket -1, new +1 in each scope; nothing for writes that kept the
version, for other entities, for removals), and the grouping of records into transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from stratoflow.schemas import FlowRun, State, StateType
from stratoflow_functions.store.keys import shard_of, sharded, stats_bucket, stats_partition
from stratoflow_functions.store.run_counting import groups
from stratoflow_functions.store.run_history import HistoryEntry, RunChange, run_change, run_changes

T0 = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
SHARDS = 4
DEPLOYMENT = uuid4()


def _run(state: StateType, version: int, **fields: Any) -> FlowRun:
    values: dict[str, Any] = {
        "id": RUN_ID,
        "name": "calm-otter",
        "flow_id": FLOW_ID,
        "flow_name": "etl",
        "deployment_id": DEPLOYMENT,
        "state": State(type=state, timestamp=T0),
        "created": T0,
        "updated": T0,
        "version": version,
    }
    values.update(fields)
    return FlowRun(**values)


RUN_ID, FLOW_ID = uuid4(), uuid4()


def _image(run: FlowRun, counted: bool = True) -> dict[str, Any]:
    image: dict[str, Any] = {
        "entity": {"S": "flow_run"},
        "id": {"S": str(run.id)},
        "version": {"N": str(run.version)},
        "data": {"S": run.model_dump_json()},
    }
    if counted:
        image["stats_bucket"] = {"S": stats_bucket(run.expected_start_time or run.created)}
    return image


def _record(new: dict[str, Any] | None, old: dict[str, Any] | None, seq: str = "1") -> Any:
    name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
    data: dict[str, Any] = {"SequenceNumber": seq}
    if new is not None:
        data["NewImage"] = new
    if old is not None:
        data["OldImage"] = old
    return {"eventName": name, "dynamodb": data}


def _key(scope: str, at: datetime, state: StateType) -> tuple[str, str, StateType]:
    return (sharded(stats_partition(scope), shard_of(RUN_ID, SHARDS)), stats_bucket(at), state)


SCOPES = ("RUNS", f"FLOW#{FLOW_ID}", f"DEPLOYMENT#{DEPLOYMENT}")


def test_an_insert_is_its_first_history_entry_and_plus_one_in_each_scope() -> None:
    run = _run(StateType.SCHEDULED, 1)
    change = run_change(_record(_image(run), None, "7"), SHARDS, 30)
    assert change is not None
    assert (change.sequence, change.history.run_id, change.history.version) == ("7", RUN_ID, 1)
    assert State.model_validate_json(change.history.state).type is StateType.SCHEDULED
    assert change.deltas == {_key(scope, T0, StateType.SCHEDULED): 1 for scope in SCOPES}


def test_a_state_change_moves_one_from_the_old_state_to_the_new() -> None:
    old, new = _run(StateType.PENDING, 2), _run(StateType.RUNNING, 3)
    change = run_change(_record(_image(new), _image(old)), SHARDS, 30)
    assert change is not None
    assert change.history.version == 3
    expected = {}
    for scope in SCOPES:
        expected[_key(scope, T0, StateType.PENDING)] = -1
        expected[_key(scope, T0, StateType.RUNNING)] = 1
    assert change.deltas == expected


def test_a_new_expected_start_moves_the_run_to_another_hour_bucket() -> None:
    later = T0 + timedelta(hours=5)
    old = _run(StateType.SCHEDULED, 1)
    new = _run(StateType.SCHEDULED, 2, expected_start_time=later)
    change = run_change(_record(_image(new), _image(old)), SHARDS, 30)
    assert change is not None
    assert change.deltas[_key("RUNS", T0, StateType.SCHEDULED)] == -1
    assert change.deltas[_key("RUNS", later, StateType.SCHEDULED)] == 1
    assert len(change.deltas) == 2 * len(SCOPES)


def test_a_new_version_in_the_same_state_and_bucket_is_history_without_deltas() -> None:
    old, new = _run(StateType.RUNNING, 3), _run(StateType.RUNNING, 4)
    change = run_change(_record(_image(new), _image(old)), SHARDS, 30)
    assert change is not None
    assert change.history.version == 4
    assert change.deltas == {}


def test_writes_that_keep_the_version_other_items_and_removals_derive_nothing() -> None:
    run = _run(StateType.RUNNING, 3)
    heartbeat = _record(_image(run), _image(run))
    task = {"entity": {"S": "task_run"}, "data": {"S": "{}"}}
    removal = _record(None, _image(run))
    assert run_changes([heartbeat, _record(task, None), removal], SHARDS, 30) == []


def test_an_old_image_never_counted_takes_nothing_off() -> None:
    old, new = _run(StateType.PENDING, 2), _run(StateType.RUNNING, 3)
    change = run_change(_record(_image(new), _image(old, counted=False)), SHARDS, 30)
    assert change is not None
    assert change.deltas == {_key(scope, T0, StateType.RUNNING): 1 for scope in SCOPES}


def _change(n: int, version: int = 1, scopes: int = 3) -> RunChange:
    entry = HistoryEntry(run_id=RUN_IDS[n], version=version, state="{}", expires_at=0)
    deltas = {(f"RUN_STATS#S{n}#{k}", "b", StateType.PENDING): 1 for k in range(scopes)}
    return RunChange(str(n), entry, deltas)


RUN_IDS = [uuid4() for _ in range(60)]


def test_groups_keep_to_25_history_puts_100_actions_and_no_item_twice() -> None:
    assert [len(g) for g in groups([_change(n, scopes=0) for n in range(30)])] == [25, 5]
    # each record: its history Put and 4 counter items of its own: 20 records fill 100 actions
    assert [len(g) for g in groups([_change(n, scopes=4) for n in range(30)])] == [20, 10]
    twice = [_change(0), _change(1), _change(0), _change(0, version=2)]
    assert [[c.sequence for c in g] for g in groups(twice)] == [["0", "1"], ["0", "0"]]
