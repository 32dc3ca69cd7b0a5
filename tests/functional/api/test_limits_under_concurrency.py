"""Concurrency limits are never exceeded under concurrent claims and proposals.

Agents claim from a queue with a concurrency limit (and one of its deployments has a limit of
its own) while workers run the claimed flow runs, each starting three task runs of a tag whose
limit is two, and finish them; an observer reads every limit the whole time. At every
observation each limit has at most `limit` holders, and every holder is an active run (or, read
a moment later, has already given its slot back: a run leaves the active states and gives
back its slot in one write). Real threads over the in-process API; the emulator is made atomic
as DynamoDB is.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from stratoflow_functions.local.moto_transactions import make_moto_transactions_cheap
from tests.support import ApiCaller, make_moto_dynamodb_atomic

AGENTS = 3
WORKERS = 3
RUNS_PER_DEPLOYMENT = 8
LIMITS = {"work-queue:default": 3, "db": 2}
DEPLOYMENT_LIMIT = 2
TASKS_PER_RUN = 3
DEADLINE_SECONDS = 240
ACTIVE_FLOW_STATES = {"PENDING", "RUNNING", "CANCELLING"}


@dataclass
class Shared:
    """What the threads report, under one lock (the test's state, not the server's)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    problems: list[str] = field(default_factory=list)
    claimed: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    peaks: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    observations: int = 0
    work: queue.Queue[str] = field(default_factory=queue.Queue)
    slot_freed: threading.Event = field(default_factory=threading.Event)
    tag_freed: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def _post(api: ApiCaller, shared: Shared, path: str, body: dict) -> dict:
    answer = api.post(path, body)
    if answer.status not in (200, 201):
        shared.problem(f"POST {path}: {answer.status} {answer.body}")
        raise RuntimeError(path)
    return dict(answer.body)


def _agent(api: ApiCaller, shared: Shared, total: int, deadline: float) -> None:
    agent_id = str(uuid.uuid4())
    while time.monotonic() < deadline and not shared.stop.is_set():
        with shared.lock:
            if len(shared.claimed) >= total:
                return
        won = _post(api, shared, "/work-queues/default/claim", {"agent_id": agent_id, "limit": 2})
        runs = [item["flow_run"]["id"] for item in won["runs"]]
        with shared.lock:
            shared.claimed += runs
        for run in runs:
            shared.work.put(run)
        if not runs:
            shared.slot_freed.wait(0.2)  # woken when a worker finishes a run
            shared.slot_freed.clear()


def _worker(api: ApiCaller, shared: Shared, deadline: float) -> None:
    while time.monotonic() < deadline and not shared.stop.is_set():
        try:
            run = shared.work.get(timeout=0.2)
        except queue.Empty:
            continue
        _run_flow(api, shared, run, deadline)
        with shared.lock:
            shared.finished.append(run)
        shared.slot_freed.set()


def _run_flow(api: ApiCaller, shared: Shared, run: str, deadline: float) -> None:
    _post(api, shared, f"/flow-runs/{run}/state", {"state": {"type": "RUNNING"}})
    tasks = [
        _post(api, shared, "/task-runs", {
            "flow_run_id": run, "task_key": "t", "name": f"t-{n}", "dynamic_key": str(n),
            "tags": ["db"],
        })["id"]
        for n in range(TASKS_PER_RUN)
    ]  # fmt: skip
    waiting = list(tasks)
    while waiting and time.monotonic() < deadline:
        started = [task for task in waiting if _start(api, shared, task)]  # all before any ends
        for task in started:
            _post(api, shared, f"/task-runs/{task}/state", {"state": {"type": "COMPLETED"}})
            shared.tag_freed.set()
        waiting = [task for task in waiting if task not in started]
        if waiting and not started:  # the engine obeys WAIT: try again once a slot is freed
            shared.tag_freed.wait(0.2)
            shared.tag_freed.clear()
    _post(api, shared, f"/flow-runs/{run}/state", {"state": {"type": "COMPLETED"}})


def _start(api: ApiCaller, shared: Shared, task: str) -> bool:
    answer = _post(api, shared, f"/task-runs/{task}/state", {"state": {"type": "RUNNING"}})
    with shared.lock:
        shared.answers[answer["status"]] += 1
    return bool(answer["status"] == "ACCEPT")


def _observer(api: ApiCaller, shared: Shared, limits: dict[str, int]) -> None:
    while not shared.stop.is_set():
        page = api.get("/concurrency-limits", query={"limit": 100}).body["items"]
        for limit in page:
            holders = [str(holder) for holder in limit["active_slots"]]
            tag = limit["tag"]
            with shared.lock:
                shared.peaks[tag] = max(shared.peaks[tag], len(holders))
                shared.observations += 1
            if len(holders) > limits[tag]:
                shared.problem(f"{tag}: {len(holders)} holders over its limit {limits[tag]}")
            for holder in holders:
                _check_holder(api, shared, tag, holder)
        shared.stop.wait(0.05)


def _check_holder(api: ApiCaller, shared: Shared, tag: str, holder: str) -> None:
    """A holder must be active; one seen finished must no longer hold the slot."""
    reserved = tag.startswith(("work-queue:", "deployment:"))
    kind = "flow-runs" if reserved else "task-runs"
    state = api.get(f"/{kind}/{holder}").body["state"]["type"]
    active = state in ACTIVE_FLOW_STATES if reserved else state == "RUNNING"
    if active:
        return
    still = [str(h) for h in api.get(f"/concurrency-limits/{tag}").body["active_slots"]]
    if holder in still:
        shared.problem(f"{tag}: {kind} {holder} is {state} and still holds a slot")


def test_limits_hold_under_concurrent_claims_and_proposals(api: ApiCaller, flow_id: str) -> None:
    make_moto_dynamodb_atomic()
    make_moto_transactions_cheap()
    limits = dict(LIMITS)
    api.put("/work-queues/default", {"concurrency_limit": LIMITS["work-queue:default"]})
    api.put("/concurrency-limits/db", {"limit": LIMITS["db"]})
    body = {"flow_id": flow_id, "entrypoint": "a.py:f"}
    limited = api.post("/deployments", {**body, "name": "one", "concurrency_limit": 2}).body
    free = api.post("/deployments", {**body, "name": "free"}).body
    limits[f"deployment:{limited['id']}"] = DEPLOYMENT_LIMIT
    for deployment in (limited, free):
        for _ in range(RUNS_PER_DEPLOYMENT):
            api.post(f"/deployments/{deployment['id']}/runs")
    total = 2 * RUNS_PER_DEPLOYMENT
    shared = Shared()
    deadline = time.monotonic() + DEADLINE_SECONDS
    threads = [
        threading.Thread(target=_agent, args=(api, shared, total, deadline)) for _ in range(AGENTS)
    ]
    threads += [
        threading.Thread(target=_worker, args=(api, shared, deadline)) for _ in range(WORKERS)
    ]
    observer = threading.Thread(target=_observer, args=(api, shared, limits))
    observer.start()
    for thread in threads:
        thread.start()
    while len(shared.finished) < total and time.monotonic() < deadline and not shared.problems:
        shared.stop.wait(0.2)  # poll the workers' progress, up to the deadline
    shared.stop.set()
    for thread in [*threads, observer]:
        thread.join(DEADLINE_SECONDS)

    assert shared.problems == []
    assert sorted(shared.finished) == sorted(set(shared.claimed))
    assert len(shared.finished) == total, "every run was claimed once and finished"
    assert shared.observations > 0
    assert all(shared.peaks[tag] <= limit for tag, limit in limits.items()), shared.peaks
    assert shared.answers["WAIT"] >= total, "each run's third task found the tag full"
    final = api.get("/concurrency-limits").body["items"]
    assert {item["tag"]: item["active_slots"] for item in final} == {tag: [] for tag in limits}
