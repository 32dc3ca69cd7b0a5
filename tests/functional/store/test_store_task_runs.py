"""Task runs: idempotent creates, version-guarded saves with held slots, the batch path."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from stratoflow.schemas import StateType
from stratoflow_functions.errors import ConflictError, NotFoundError
from stratoflow_functions.store import Store
from tests.functional.store.store_support import T0, make_task_run, moved, save


def test_task_run_create_is_idempotent_by_id(store: Store) -> None:
    run = make_task_run(uuid4())

    first, created = store.task_runs.create(run)
    again, created_again = store.task_runs.create(run.model_copy(update={"name": "other"}))

    assert (created, created_again) == (True, False)
    assert first == again == run
    assert store.task_runs.get(run.id).run == run


def test_task_run_get_of_unknown_id_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.task_runs.get(uuid4())


def test_task_run_saves_from_the_same_version_one_wins(store: Store) -> None:
    run = make_task_run(uuid4())
    store.task_runs.create(run)

    save(store.task_runs, moved(run, StateType.RUNNING, T0), expected_version=0, held_slots=("db",))
    with pytest.raises(ConflictError) as caught:
        save(store.task_runs, moved(run, StateType.FAILED, T0), expected_version=0)

    record = store.task_runs.get(run.id)
    assert caught.value.code == "version_conflict"
    assert record.run.state.type == StateType.RUNNING
    assert record.held_slots == ("db",)


def test_put_many_creates_and_replaces_but_never_goes_back_a_version(store: Store) -> None:
    flow_run_id = uuid4()
    fresh = make_task_run(flow_run_id)
    stored = make_task_run(flow_run_id)
    store.task_runs.create(stored)
    newer = moved(stored, StateType.RUNNING, T0)
    store.task_runs.put_many([fresh, newer])

    store.task_runs.put_many([stored])  # an older record arriving late

    assert store.task_runs.get(fresh.id).run == fresh
    assert store.task_runs.get(stored.id).run.version == 1


def test_task_runs_of_a_flow_run_list_in_creation_order_with_pages(store: Store) -> None:
    flow_run_id = uuid4()
    runs = [make_task_run(flow_run_id, T0 + timedelta(seconds=n)) for n in range(5)]
    for run in reversed(runs):
        store.task_runs.create(run)
    store.task_runs.create(make_task_run(uuid4()))

    first = store.task_runs.list_for_flow_run(flow_run_id, 3, None)
    rest = store.task_runs.list_for_flow_run(flow_run_id, 3, first.next_token)

    assert [r.id for r in first.items + rest.items] == [r.id for r in runs]
    assert rest.next_token is None
