"""Many clients at once against the real threaded HTTP server: every answer is checked.

The API's routes answer 200, 201 and 204; a server that shared one request's state with
another would hand a GET a 201, or a claim a 204 (dropping the runs it moved to PENDING). Each
worker below checks the status and body of every answer it gets, and the claimers' answers are
checked against the store: every run claimed exactly once, none moved to PENDING unclaimed.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from tests.fixtures.live_api import LiveApi

WORKERS = 12
ROUNDS = 12
RUNS = 60


@dataclass
class Tally:
    """What the workers saw, shared under a lock (the test's own state, not the server's)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    claimed: list[str] = field(default_factory=list)

    def record(self, what: str, problem: str | None) -> None:
        with self.lock:
            self.answers[what] += 1
            if problem is not None:
                self.wrong.append(f"{what}: {problem}")


def _ask(
    tally: Tally,
    what: str,
    send: Callable[[], httpx.Response],
    status: int,
    check: Callable[[httpx.Response], bool] = lambda answer: True,
) -> httpx.Response | None:
    """Send one request and record whether its answer was the one it should get."""
    try:
        answer = send()
    except httpx.HTTPError as exc:  # a garbled answer is a wrong answer, not a test crash
        tally.record(what, f"{type(exc).__name__}: {str(exc)[:200]}")
        return None
    tally.record(what, _problem(answer, status, check))
    return answer


def _problem(
    answer: httpx.Response, status: int, check: Callable[[httpx.Response], bool]
) -> str | None:
    if answer.status_code != status:
        return f"status {answer.status_code}, expected {status}: {answer.text[:200]}"
    if status == 204:
        return None if answer.content == b"" else f"204 with a body: {answer.text[:200]}"
    return None if check(answer) else f"unexpected body: {answer.text[:200]}"


def _client(api: LiveApi) -> httpx.Client:
    headers = {"authorization": f"Bearer {api.key}"}
    return httpx.Client(base_url=api.url, headers=headers, timeout=30)


def _mixed_round(client: httpx.Client, flow_id: str, tally: Tally) -> None:
    """One of each kind of answer: 201, 200, 204, 404."""
    name = f"flow-{uuid.uuid4().hex[:10]}"
    tag = f"tag-{uuid.uuid4().hex[:8]}"
    _ask(tally, "POST /flows", lambda: client.post("/flows", json={"name": name}), 201,
         lambda a: a.json()["name"] == name)  # fmt: skip
    _ask(tally, "GET /flows/{id}", lambda: client.get(f"/flows/{flow_id}"), 200,
         lambda a: a.json()["id"] == flow_id)  # fmt: skip
    _ask(tally, "PUT limit", lambda: client.put(f"/concurrency-limits/{tag}", json={"limit": 2}),
         200, lambda a: a.json()["tag"] == tag)  # fmt: skip
    _ask(tally, "DELETE limit", lambda: client.delete(f"/concurrency-limits/{tag}"), 204)
    _ask(tally, "GET missing", lambda: client.get(f"/flows/{uuid.uuid4()}"), 404,
         lambda a: a.json()["error"]["code"] == "not_found")  # fmt: skip


def _claim_round(client: httpx.Client, tally: Tally) -> None:
    body = {"agent_id": str(uuid.uuid4()), "limit": 2}
    answer = _ask(tally, "claim", lambda: client.post("/work-queues/default/claim", json=body), 200,
                  lambda a: isinstance(a.json()["runs"], list))  # fmt: skip
    if answer is not None and answer.status_code == 200:
        with tally.lock:
            tally.claimed.extend(item["flow_run"]["id"] for item in answer.json()["runs"])


def _worker(api: LiveApi, flow_id: str, index: int, tally: Tally) -> None:
    with _client(api) as client:
        for _ in range(ROUNDS):
            if index % 3 == 0:
                _claim_round(client, tally)
            else:
                _mixed_round(client, flow_id, tally)


def _setup(api: LiveApi) -> tuple[str, list[str]]:
    with _client(api) as client:
        flow_id = client.post("/flows", json={"name": "concurrency"}).json()["id"]
        body = {"flow_id": flow_id, "name": "d", "entrypoint": "flows.py:f"}
        deployment = client.post("/deployments", json=body).json()["id"]
        runs = [client.post(f"/deployments/{deployment}/runs", json={}) for _ in range(RUNS)]
    assert {run.status_code for run in runs} == {201}
    return flow_id, [run.json()["id"] for run in runs]


def _states(api: LiveApi, run_ids: list[str]) -> Counter[str]:
    with _client(api) as client:
        return Counter(client.get(f"/flow-runs/{run}").json()["state"]["type"] for run in run_ids)


def test_every_answer_is_its_own_under_concurrency(live_api: LiveApi) -> None:
    flow_id, run_ids = _setup(live_api)
    tally = Tally()
    with ThreadPoolExecutor(WORKERS) as pool:
        done = [pool.submit(_worker, live_api, flow_id, i, tally) for i in range(WORKERS)]
        for future in done:
            future.result()
    assert tally.wrong == [], f"{len(tally.wrong)} wrong answers, first: {tally.wrong[:5]}"
    assert sum(tally.answers.values()) == WORKERS * ROUNDS * 5 - (WORKERS // 3) * ROUNDS * 4
    claimed = Counter(tally.claimed)
    assert [run for run, times in claimed.items() if times > 1] == []
    states = _states(live_api, run_ids)
    assert states["PENDING"] == len(claimed), "a run moved to PENDING that no claimer was told of"
    assert set(claimed) <= set(run_ids)
