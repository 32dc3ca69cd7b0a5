"""`GET /flow-runs` over the sharded indexes: pages in newest-first order with opaque tokens,
and a token that is not this list's is a 400 `invalid_next_token`, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from tests.support import ApiCaller, FakeClock


def _pages(api: ApiCaller, **query: object) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        body = api.get("/flow-runs", query={**query, "next_token": token}).body
        ids += [run["id"] for run in body["items"]]
        token = body["next_token"]
        if token is None:
            return ids


def test_pages_of_every_size_list_each_run_once_newest_first(
    api: ApiCaller, flow_id: str, clock: FakeClock
) -> None:
    made = []
    for _ in range(9):
        made.append(api.post("/flow-runs", {"flow_id": flow_id}).body["id"])
        clock.advance(1)
    running = made[2::3]
    for run_id in running:
        api.post(f"/flow-runs/{run_id}/state", {"state": {"type": "RUNNING"}})

    for size in (1, 2, 4, 9, 50):
        assert _pages(api, limit=size) == list(reversed(made))
        assert _pages(api, limit=size, state="RUNNING") == list(reversed(running))


def _token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "garbage!!",
        _token({"list": "RUNS#RUNNING", "after": "2026-03-01T12:00:00.000000Z#x"}),
        _token({"list": "RUNS", "after": "not a position"}),
        _token(["RUNS"]),
    ],
)
def test_a_forged_token_is_a_400_invalid_next_token(api: ApiCaller, token: str) -> None:
    answer = api.get("/flow-runs", query={"next_token": token})

    assert answer.status == 400
    assert answer.code == "invalid_next_token"


def test_a_token_of_another_list_is_refused(api: ApiCaller, flow_id: str) -> None:
    for _ in range(3):
        api.post("/flow-runs", {"flow_id": flow_id})
    token = api.get("/flow-runs", query={"limit": 1}).body["next_token"]

    answer = api.get("/flow-runs", query={"state": "PENDING", "next_token": token})

    assert (answer.status, answer.code) == (400, "invalid_next_token")
