"""Bad input gets a 4xx with a stable code, never a 500 or a half-written record."""

from __future__ import annotations

from tests.support import ApiCaller


def test_invalid_json_is_a_400(api: ApiCaller) -> None:
    answer = api.call("POST", "/flows", raw=b"{not json")
    assert answer.status == 400
    assert answer.code == "invalid_json"


def test_schema_violation_is_a_422_with_details(api: ApiCaller) -> None:
    answer = api.post("/flows", {"name": ""})
    assert answer.status == 422
    assert answer.code == "validation_error"
    assert answer.body["error"]["details"]


def test_bad_uuid_in_path_is_a_422(api: ApiCaller) -> None:
    answer = api.get("/flow-runs/not-a-uuid")
    assert answer.status == 422
    assert answer.code == "validation_error"


def test_unknown_route_is_a_404(api: ApiCaller) -> None:
    answer = api.get("/nothing-here")
    assert answer.status == 404
    assert answer.code == "route_not_found"


def test_unknown_resource_is_a_404(api: ApiCaller) -> None:
    answer = api.get("/flows/00000000-0000-4000-8000-000000000000")
    assert answer.status == 404
    assert answer.code == "not_found"


def test_oversized_body_is_a_413_before_anything_is_read(api: ApiCaller) -> None:
    answer = api.call("POST", "/flows", raw=b'{"name": "' + b"x" * 300_000 + b'"}')
    assert answer.status == 413
    assert answer.code == "body_too_large"


def test_oversized_parameters_are_a_413_and_nothing_is_written(
    api: ApiCaller, flow_id: str
) -> None:
    big = {"blob": "x" * 70_000}
    answer = api.post("/flow-runs", {"flow_id": flow_id, "parameters": big})
    assert answer.status == 413
    assert answer.code == "parameters_too_large"
    assert api.get("/flow-runs").body["items"] == []


def test_bad_next_token_is_a_400(api: ApiCaller) -> None:
    answer = api.get("/flows", query={"next_token": "garbage!!"})
    assert answer.status == 400
    assert answer.code == "invalid_next_token"


def test_limit_out_of_range_is_a_422(api: ApiCaller) -> None:
    answer = api.get("/flows", query={"limit": 1000})
    assert answer.status == 422


def test_unknown_state_name_is_a_422(api: ApiCaller, flow_id: str) -> None:
    run = api.post("/flow-runs", {"flow_id": flow_id}).body
    answer = api.post(
        f"/flow-runs/{run['id']}/state", {"state": {"type": "RUNNING", "name": "Cached"}}
    )
    assert answer.status == 422
    assert api.get(f"/flow-runs/{run['id']}").body["version"] == 0
