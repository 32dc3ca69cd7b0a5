"""20 agents racing for the same 50 runs: each run is claimed exactly once, none is lost."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

from tests.support import ApiCaller, make_moto_dynamodb_atomic

AGENTS = 20
RUNS = 50
DEADLINE_SECONDS = 120


def test_concurrent_claims_take_each_run_exactly_once(api: ApiCaller, deployment_id: str) -> None:
    make_moto_dynamodb_atomic()
    created = {api.post(f"/deployments/{deployment_id}/runs").body["id"] for _ in range(RUNS)}
    claims: list[tuple[str, str]] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(AGENTS)
    deadline = time.monotonic() + DEADLINE_SECONDS

    def agent() -> None:
        agent_id = str(uuid.uuid4())
        start.wait()
        while time.monotonic() < deadline:
            answer = api.post("/work-queues/default/claim", {"agent_id": agent_id, "limit": 3})
            if answer.status != 200:
                with lock:
                    errors.append(f"{answer.status} {answer.body}")
                return
            won = [item["flow_run"]["id"] for item in answer.body["runs"]]
            with lock:
                claims.extend((run_id, agent_id) for run_id in won)
            if not won and _nothing_left(api):
                return

    threads = [threading.Thread(target=agent) for _ in range(AGENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS)

    assert errors == []
    counts = Counter(run_id for run_id, _ in claims)
    assert set(counts) == created, "every run is claimed (no claim lost)"
    assert max(counts.values()) == 1, "no run is claimed twice"
    for run_id, agent_id in claims:
        stored = api.get(f"/flow-runs/{run_id}").body
        assert stored["state"]["type"] == "PENDING"
        assert stored["agent_id"] == agent_id
        assert stored["version"] == 1


def _nothing_left(api: ApiCaller) -> bool:
    page = api.get("/flow-runs", query={"state": "SCHEDULED", "limit": 1}).body
    return not page["items"]
