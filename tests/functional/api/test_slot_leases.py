"""Concurrency slots are leases: a holder that dies frees its slot when its lease runs out, a
living holder's heartbeat keeps it, and every decision that takes or gives back a slot is one
TransactWriteItems with its run (counted with botocore hooks on the store's own client)."""

from __future__ import annotations

import uuid

from stratoflow_functions.config import Settings
from stratoflow_functions.local.moto_transactions import make_moto_transactions_cheap
from stratoflow_functions.services.towel import resurrect
from stratoflow_functions.store import Store
from tests.functional.write_meter import Write, WriteMeter
from tests.support import ApiCaller, FakeClock

TABLE = "stratoflow-api-test"


def _lease(store: Store) -> float:
    return store.concurrency.lease_seconds


def _claim(api: ApiCaller, limit: int = 10) -> list[str]:
    body = {"agent_id": str(uuid.uuid4()), "limit": limit}
    answer = api.post("/work-queues/default/claim", body)
    assert answer.status == 200
    return [item["flow_run"]["id"] for item in answer.body["runs"]]


def _holders(api: ApiCaller, tag: str) -> list[str]:
    return list(api.get(f"/concurrency-limits/{tag}").body["active_slots"])


def _state(api: ApiCaller, kind: str, run_id: str, state: str) -> dict:
    answer = api.post(f"/{kind}/{run_id}/state", {"state": {"type": state}})
    assert answer.status == 200, answer.body
    return dict(answer.body)


def _task(api: ApiCaller, flow_run: str, tag: str, index: int = 0) -> str:
    body = {
        "flow_run_id": flow_run, "task_key": "t", "name": f"t-{index}",
        "dynamic_key": str(index), "tags": [tag],
    }  # fmt: skip
    return str(api.post("/task-runs", body).body["id"])


def test_a_claimed_run_that_dies_frees_its_queue_slot_when_its_lease_expires(
    api: ApiCaller, store: Store, deployment_id: str, clock: FakeClock
) -> None:
    """No sweeper: the dead run's lease stops counting once it expires, and the next claim
    takes the slot (dropping the dead lease in the same write)."""
    api.put("/work-queues/default", {"concurrency_limit": 1})
    for _ in range(2):
        api.post(f"/deployments/{deployment_id}/runs")
    (dead,) = _claim(api)
    clock.advance(_lease(store) - 1)
    assert _claim(api) == []
    assert _holders(api, "work-queue:default") == [dead]

    clock.advance(1)
    assert _holders(api, "work-queue:default") == []
    (second,) = _claim(api)

    assert _holders(api, "work-queue:default") == [second]
    assert second != dead


def test_heartbeats_keep_the_leases_of_a_run_and_of_its_task_runs(
    api: ApiCaller, store: Store, deployment_id: str, clock: FakeClock
) -> None:
    api.put("/work-queues/default", {"concurrency_limit": 1})
    api.put("/concurrency-limits/db", {"limit": 1})
    for _ in range(2):
        api.post(f"/deployments/{deployment_id}/runs")
    (alive,) = _claim(api)
    _state(api, "flow-runs", alive, "RUNNING")
    task = _task(api, alive, "db")
    assert _state(api, "task-runs", task, "RUNNING")["status"] == "ACCEPT"
    rival = _task(api, alive, "db", 1)

    for _ in range(int(3 * _lease(store) / 30)):  # the engine's 30 s heartbeat, 3 leases long
        clock.advance(30)
        assert api.post(f"/flow-runs/{alive}/heartbeat", {}).status == 200
    assert _claim(api) == []
    assert _state(api, "task-runs", rival, "RUNNING")["status"] == "WAIT"
    assert (_holders(api, "work-queue:default"), _holders(api, "db")) == ([alive], [task])

    clock.advance(_lease(store))  # the process dies: no more heartbeats

    assert (_holders(api, "work-queue:default"), _holders(api, "db")) == ([], [])
    assert _state(api, "task-runs", rival, "RUNNING")["status"] == "ACCEPT"


def test_a_hundred_killed_task_runs_hold_no_slot_once_their_leases_expire(
    api: ApiCaller, store: Store, flow_id: str, clock: FakeClock
) -> None:
    make_moto_transactions_cheap()  # the local stack's emulator fix: 101 transactions
    api.put("/concurrency-limits/db", {"limit": 100})
    flow_run = api.post("/flow-runs", {"flow_id": flow_id}).body["id"]
    _state(api, "flow-runs", flow_run, "RUNNING")
    tasks = [_task(api, flow_run, "db", index) for index in range(101)]
    for task in tasks[:100]:
        assert _state(api, "task-runs", task, "RUNNING")["status"] == "ACCEPT"
    assert sorted(_holders(api, "db")) == sorted(tasks[:100])
    assert _state(api, "task-runs", tasks[100], "RUNNING")["status"] == "WAIT"

    clock.advance(_lease(store))  # every process killed: no heartbeats, no final proposals

    assert _holders(api, "db") == []
    assert _state(api, "task-runs", tasks[100], "RUNNING")["status"] == "ACCEPT"
    assert _holders(api, "db") == [tasks[100]]


def _run_and_limit_writes(meter: WriteMeter) -> list[Write]:
    """The writes that touched a run, a limit or a lease registry."""
    prefixes = ("FLOW_RUN#", "TASK_RUN#", "CONCURRENCY#")
    return [w for w in meter.writes if any(pk.startswith(prefixes) for pk, _ in w.keys)]


def _one_transaction(meter: WriteMeter, *expected_pks: str) -> None:
    (write,) = _run_and_limit_writes(meter)
    assert write.operation == "TransactWriteItems"
    assert {pk for pk, _ in write.keys} >= set(expected_pks)


def test_no_path_writes_a_run_and_its_slots_in_separate_calls(
    api: ApiCaller, store: Store, flow_id: str, clock: FakeClock
) -> None:
    body = {"flow_id": flow_id, "name": "one", "entrypoint": "a.py:f", "concurrency_limit": 1}
    deployment = api.post("/deployments", body).body["id"]
    api.put("/work-queues/default", {"concurrency_limit": 3})
    api.put("/concurrency-limits/db", {"limit": 1})
    run = api.post(f"/deployments/{deployment}/runs").body["id"]
    slots = ("CONCURRENCY#work-queue:default", f"CONCURRENCY#deployment:{deployment}")

    with WriteMeter.attach(store, TABLE) as meter:
        assert _claim(api) == [run]
    _one_transaction(meter, f"FLOW_RUN#{run}", *slots)

    _state(api, "flow-runs", run, "RUNNING")
    task = _task(api, run, "db")
    for state in ("RUNNING", "COMPLETED"):
        with WriteMeter.attach(store, TABLE) as meter:
            assert _state(api, "task-runs", task, state)["status"] == "ACCEPT"
        _one_transaction(meter, f"TASK_RUN#{task}", "CONCURRENCY#db", f"FLOW_RUN#{run}")

    with WriteMeter.attach(store, TABLE) as meter:
        assert _state(api, "flow-runs", run, "COMPLETED")["status"] == "ACCEPT"
    _one_transaction(meter, f"FLOW_RUN#{run}", *slots)
    assert _holders(api, "work-queue:default") == _holders(api, f"deployment:{deployment}") == []


def test_lazarus_reschedules_a_stuck_claimed_run_and_frees_its_slots_in_one_transaction(
    api: ApiCaller, store: Store, settings: Settings, deployment_id: str, clock: FakeClock
) -> None:
    api.put("/work-queues/default", {"concurrency_limit": 1})
    api.post(f"/deployments/{deployment_id}/runs")
    (stuck,) = _claim(api)
    clock.advance(settings.zombie_threshold_seconds + 1)

    with WriteMeter.attach(store, TABLE) as meter:
        assert resurrect(store, settings, clock()).runs_resurrected == 1

    _one_transaction(meter, f"FLOW_RUN#{stuck}", "CONCURRENCY#work-queue:default")
    rescheduled = api.get(f"/flow-runs/{stuck}").body
    assert (rescheduled["state"]["type"], rescheduled["concurrency_slots"]) == ("SCHEDULED", [])
    assert _claim(api) == [stuck]


def test_a_cancel_frees_the_slots_of_a_claimed_run_at_once(
    api: ApiCaller, store: Store, deployment_id: str
) -> None:
    api.put("/work-queues/default", {"concurrency_limit": 1})
    runs = {api.post(f"/deployments/{deployment_id}/runs").body["id"] for _ in range(2)}
    (first,) = _claim(api)

    with WriteMeter.attach(store, TABLE) as meter:
        assert api.post(f"/flow-runs/{first}/cancel").body["state"]["type"] == "CANCELLED"

    _one_transaction(meter, f"FLOW_RUN#{first}", "CONCURRENCY#work-queue:default")
    assert _claim(api) == list(runs - {first})


def test_a_proposal_that_loses_its_race_keeps_no_slot(
    api: ApiCaller, store: Store, flow_id: str
) -> None:
    """Just before our RUNNING transaction is sent, a rival request cancels the task run: the
    transaction is cancelled whole (no slot taken), and the re-read proposal is refused."""
    api.put("/concurrency-limits/db", {"limit": 1})
    flow_run = api.post("/flow-runs", {"flow_id": flow_id}).body["id"]
    _state(api, "flow-runs", flow_run, "RUNNING")
    task = _task(api, flow_run, "db")
    raced: list[bool] = []

    def rival(_: dict) -> None:
        if not raced:
            raced.append(True)
            _state(api, "task-runs", task, "CANCELLED")

    with WriteMeter.attach(store, TABLE) as meter:
        meter.fail_transaction(lambda params: rival(params))
        answer = _state(api, "task-runs", task, "RUNNING")

    assert raced == [True]
    assert answer["status"] == "ABORT"
    assert api.get(f"/task-runs/{task}").body["state"]["type"] == "CANCELLED"
    assert _holders(api, "db") == []
