"""A scaled-down sample of the load model's day, through the real API handler: each flow run is
created from a deployment, claimed by an agent, started, heartbeats while its tasks run (their
records in `POST /task-runs/batch`, as the SDK's batcher ships them), writes logs, and ends
COMPLETED or FAILED. The calls and their payloads are the SDK's and the agent's. The table's
stream is then fed to the stream consumer (state history, run counters), whose writes are
counted apart: they are off the request path."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import boto3

from stratoflow.schemas import ApiKeyCreate, ApiKeyScope, FlowRunFilter
from stratoflow_functions.api import ApiApp, ApiDeps
from stratoflow_functions.config import Settings
from stratoflow_functions.services.api_keys import create_api_key
from stratoflow_functions.store import Store, build_store, create_table
from tests.functional.api.partition_load import (
    PARAMETERS,
    FamilyLoad,
    ReadCounter,
    Workload,
    WriteCounter,
    family_loads,
    report,
)
from tests.functional.store.store_support import stream_records
from tests.support import Answer, ApiCaller, FakeClock

Call = Callable[[], Answer]


@dataclass(frozen=True)
class Sample:
    """A driven sample: its per-run loads, the raw counter, and the API and store it used."""

    loads: list[FamilyLoad]
    counter: WriteCounter
    api: ApiCaller
    store: Store
    consumer_loads: list[FamilyLoad] = field(default_factory=list)
    """The stream consumer's writes per run (one record a batch: its worst case)."""


def measure(table: str, shards: int, runs: int, workload: Workload) -> Sample:
    """Drive `runs` flow runs through the API on a new table written over `shards` shards
    (inside an active moto mock), counting every write."""
    settings = Settings(table_name=table, index_shards=shards)
    create_table(settings)
    clock = FakeClock()
    store = build_store(settings, clock=clock)
    admin = ApiKeyCreate(name="admin", scope=ApiKeyScope.ADMIN)
    api = ApiCaller(ApiApp(ApiDeps(store=store, settings=settings, clock=clock)), "")
    api.key = create_api_key(store, admin, clock()).key
    store.flow_runs.shards.ensure_recorded()  # once per process: not part of the steady state
    reader = boto3.client("dynamodb", region_name=settings.region)
    counter = WriteCounter(store.flow_runs._ctx.models.connection().client, reader, table)
    drive_sample(api, clock, counter, workload, runs)
    consumer = WriteCounter(store.flow_runs._ctx.models.connection().client, reader, table)
    consume_stream(store, settings, consumer)
    return Sample(family_loads(counter, runs), counter, api, store, family_loads(consumer, runs))


def consume_stream(store: Store, settings: Settings, counter: WriteCounter) -> None:
    """Feed the stream to the consumer one record a batch (Lambda at low traffic, the most
    writes a record can cost: nothing is summed across records), counting its writes per run."""
    records = stream_records(settings)
    counter.enabled = True
    for record in records:
        counter.current_run = record["dynamodb"].get("NewImage", {}).get("id", {}).get("S", "")
        assert store.run_counting.record([record]) == []
    counter.enabled = False


def expect(answer: Answer, status: int) -> Any:
    """The body of an answer that must have `status` (the sample is only valid if it does)."""
    assert answer.status == status, (answer.status, answer.body)
    return answer.body


def setup_deployment(api: ApiCaller) -> str:
    """One flow with one deployment on the default queue: every run of the sample is in the
    same flow and deployment partitions (their worst case)."""
    flow = expect(api.post("/flows", {"name": "orders"}), 201)["id"]
    body = {"flow_id": flow, "name": "daily", "entrypoint": "flows/orders.py:orders"}
    return str(expect(api.post("/deployments", body), 201)["id"])


def drive_sample(
    api: ApiCaller, clock: FakeClock, counter: WriteCounter, workload: Workload, runs: int
) -> None:
    """Drive `runs` flow runs one after another, counting their writes (setup is not counted)."""
    deployment = setup_deployment(api)
    agent = str(uuid4())
    counter.enabled = True
    for n in range(runs):
        counter.current_run = f"run-{n}"
        failed = n % workload.failed_every == workload.failed_every - 1
        drive_run(api, clock, workload, deployment, agent, failed)
    counter.enabled = False


def drive_run(
    api: ApiCaller, clock: FakeClock, workload: Workload, deployment: str, agent: str, failed: bool
) -> None:
    """One flow run's whole life, its calls in time order."""
    body = {"parameters": PARAMETERS}
    run_id = expect(api.post(f"/deployments/{deployment}/runs", body), 201)["id"]
    claim = {"agent_id": agent, "limit": 1}
    claimed = expect(api.post("/work-queues/default/claim", claim), 200)["runs"]
    assert [c["flow_run"]["id"] for c in claimed] == [run_id]
    clock.advance(2)
    answer = expect(api.post(f"/flow-runs/{run_id}/state", {"state": {"type": "RUNNING"}}), 200)
    assert answer["status"] == "ACCEPT", answer
    start = clock.now
    for _, call in sorted(timeline(api, clock, run_id, workload, start), key=lambda e: e[0]):
        call()
    final = {"type": "FAILED", "message": "boom"} if failed else {"type": "COMPLETED"}
    clock.now = start + timedelta(seconds=workload.run_seconds)
    expect(api.post(f"/flow-runs/{run_id}/state", {"state": final}), 200)


def timeline(
    api: ApiCaller, clock: FakeClock, run_id: str, workload: Workload, start: datetime
) -> list[tuple[float, Call]]:
    """The run's calls between RUNNING and its end, by the second they happen at."""
    events: list[tuple[float, Call]] = []
    step = workload.run_seconds / workload.tasks_per_run
    for i in range(workload.tasks_per_run):
        events += task_calls(api, clock, run_id, i, start, step)
    for k in range(1, workload.heartbeats_per_run + 1):
        at = k * workload.heartbeat_seconds - 0.5  # the last one just before the end
        events.append((at, at_time(clock, start, at, heartbeat(api, run_id))))
    return events


def at_time(clock: FakeClock, start: datetime, seconds: float, call: Call) -> Call:
    """`call`, made with the clock at `start + seconds`."""

    def timed() -> Answer:
        clock.now = start + timedelta(seconds=seconds)
        return call()

    return timed


def task_calls(
    api: ApiCaller, clock: FakeClock, run_id: str, i: int, start: datetime, step: float
) -> list[tuple[float, Call]]:
    """Task `i`: its record (create + RUNNING) shipped as it starts, its logs, and COMPLETED in
    the batch that follows (the batcher sends at most every 0.5 s, one batch per send)."""
    task_id = str(uuid4())
    create = {
        "id": task_id,
        "flow_run_id": run_id,
        "task_key": "orders.step",
        "dynamic_key": str(i),
        "name": f"step-{i}",
    }
    began, ended = i * step + 0.2, (i + 1) * step - 0.2
    running = batch(api, [{"task_run": create, "states": [{"type": "RUNNING"}]}])
    completed = batch(api, [{"task_run": create, "states": [{"type": "COMPLETED"}]}])
    lines = [
        {"flow_run_id": run_id, "task_run_id": task_id, "message": f"step {i}: {what}"}
        for what in ("read 25,000 rows", "wrote 25,000 rows")
    ]
    return [
        (began, at_time(clock, start, began, running)),
        (ended - 0.1, at_time(clock, start, ended - 0.1, logs(api, lines))),
        (ended, at_time(clock, start, ended, completed)),
    ]


def batch(api: ApiCaller, items: list[dict[str, Any]]) -> Call:
    """A `POST /task-runs/batch` of `items` (every item must be accepted)."""

    def send() -> Answer:
        answer = api.post("/task-runs/batch", {"items": items})
        results = expect(answer, 200)["results"]
        assert all(r["status"] == "ACCEPT" for r in results), results
        return answer

    return send


def logs(api: ApiCaller, lines: list[dict[str, Any]]) -> Call:
    """A `POST /logs` of `lines`."""
    return lambda: api.post("/logs", lines)


def heartbeat(api: ApiCaller, run_id: str) -> Call:
    """A `POST /flow-runs/{id}/heartbeat`, as the SDK's heartbeat thread sends it."""
    return lambda: api.post(f"/flow-runs/{run_id}/heartbeat", {"infrastructure_id": "pid:4242"})


def list_page_cost(sample: Sample, limit: int) -> tuple[int, int, float]:
    """Queries, items read and read units of the first `GET /flow-runs` page of `limit`."""
    counter = ReadCounter(sample.store.flow_runs._ctx.models.connection().client)
    expect(sample.api.get("/flow-runs", query={"limit": limit}), 200)
    return counter.queries, counter.items, counter.rcu


def add_listed_runs(sample: Sample, count: int) -> None:
    """Give the sample's table `count` more finished runs to list (written directly)."""
    done = sample.store.flow_runs.list(FlowRunFilter(), 1, None).items[0]
    for _ in range(count):
        sample.store.flow_runs.create(done.model_copy(update={"id": uuid4()}))


def main(runs: int = 40) -> None:
    """Print the figures of docs/data-model.md: the write model at N=1 and N=8, and the read
    cost of a list page at each."""
    from moto import mock_aws

    workload = Workload()
    with mock_aws():
        sharded = measure("load-8", 8, runs, workload)
        single = measure("load-1", 1, runs, workload)
        print("\n".join(report(sharded.loads, workload, [1, 8])))
        print("stream consumer:")
        print("\n".join(report(sharded.consumer_loads, workload, [1, 8])))
        for name, sample in (("N=1", single), ("N=8", sharded)):
            add_listed_runs(sample, 500)
            for limit in (20, 100):
                queries, items, rcu = list_page_cost(sample, limit)
                print(f"{name}: a page of {limit}: {queries} queries, {items} items, {rcu} RCU")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
