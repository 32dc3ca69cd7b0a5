"""Requests the API cannot read get a 4xx with the error body before routing, never a 500, and
write nothing: bodies that are not UTF-8 or not JSON, JSON nested too deeply, strings that are not
valid Unicode, content types other than JSON."""

from __future__ import annotations

import base64
import json

import pytest

from stratoflow.schemas import MAX_JSON_DEPTH
from stratoflow_functions.api import ApiApp
from stratoflow_functions.local import http_api_event
from tests.support import Answer, ApiCaller

SURROGATE = "\ud800"


def _raw_json(value: object) -> bytes:
    """`value` as JSON, with any lone surrogate kept as its escape (valid JSON syntax)."""
    return json.dumps(value).encode()


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def _flow_names(api: ApiCaller) -> list[str]:
    return [flow["name"] for flow in api.get("/flows").body["items"]]


def _assert_error(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.code == code
    assert answer.body["error"]["message"]


def test_a_body_that_is_not_utf8_is_a_400_and_writes_nothing(api: ApiCaller) -> None:
    answer = api.call("POST", "/flows", raw=b'{"name": "caf\xe9"}')
    _assert_error(answer, 400, "invalid_encoding")
    assert _flow_names(api) == []


@pytest.mark.parametrize("levels", [200, 1000, 100_000])
def test_json_nested_far_too_deep_is_a_400(api: ApiCaller, flow_id: str, levels: int) -> None:
    # Built by hand: json.dumps would itself recurse. 200 deep parses; 1,000 and more do not.
    body = f'{{"flow_id": "{flow_id}", "parameters": {{"x": {_nested(levels)}}}}}'
    _assert_error(api.call("POST", "/flow-runs", raw=body.encode()), 400, "json_too_deep")
    _assert_error(api.call("POST", "/flows", raw=_nested(levels).encode()), 400, "json_too_deep")
    assert api.get("/flow-runs").body["items"] == []


def test_nesting_is_allowed_up_to_the_limit_and_refused_past_it(
    api: ApiCaller, flow_id: str
) -> None:
    # The body object and "parameters" are two levels; "x" holds the rest.
    def run_with(levels: int) -> Answer:
        body = f'{{"flow_id": "{flow_id}", "parameters": {{"x": {_nested(levels - 2)}}}}}'
        return api.call("POST", "/flow-runs", raw=body.encode())

    assert run_with(MAX_JSON_DEPTH).status == 201
    _assert_error(run_with(MAX_JSON_DEPTH + 1), 400, "json_too_deep")


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda flow_id: ("/flows", {"name": f"a{SURROGATE}"}), id="name"),
        pytest.param(
            lambda flow_id: ("/flow-runs", {"flow_id": flow_id, "parameters": {"x": SURROGATE}}),
            id="parameter-value",
        ),
        pytest.param(
            lambda flow_id: ("/flow-runs", {"flow_id": flow_id, "parameters": {SURROGATE: 1}}),
            id="parameter-key",
        ),
        pytest.param(
            lambda flow_id: (
                "/flow-runs",
                {"flow_id": flow_id, "parameters": {"x": [["\udfff"]]}},
            ),
            id="nested-low-surrogate",
        ),
    ],
)
def test_lone_surrogates_are_a_422_and_write_nothing(api: ApiCaller, flow_id: str, where) -> None:
    path, body = where(flow_id)
    answer = api.call("POST", path, raw=_raw_json(body))
    _assert_error(answer, 422, "invalid_unicode")
    assert "lone surrogate" in answer.body["error"]["message"]
    assert _flow_names(api) == ["etl"]
    assert api.get("/flow-runs").body["items"] == []


def test_a_lone_surrogate_in_a_log_message_is_a_422_and_no_line_is_written(
    api: ApiCaller, flow_id: str
) -> None:
    run_id = api.post("/flow-runs", {"flow_id": flow_id}).body["id"]
    good = {"flow_run_id": run_id, "message": "fine", "timestamp": "2026-03-01T12:00:00Z"}
    bad = {**good, "message": f"broken {SURROGATE}"}
    answer = api.call("POST", "/logs", raw=_raw_json([good, bad]))
    _assert_error(answer, 422, "invalid_unicode")
    assert "[1]['message']" in answer.body["error"]["message"]
    assert api.get(f"/flow-runs/{run_id}/logs").body["items"] == []


def test_a_pair_of_surrogate_escapes_is_one_valid_character(api: ApiCaller) -> None:
    answer = api.call(
        "POST", "/flows", raw=b'{"name": "a", "tags": ["x"], "description": "\\ud83d\\ude00"}'
    )
    assert answer.status == 201


def test_escaped_backslash_before_u_is_not_taken_for_a_surrogate(api: ApiCaller) -> None:
    answer = api.call("POST", "/flows", raw=b'{"name": "a", "description": "\\\\ud800"}')
    assert answer.status == 201


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "application/json; charset=latin-1",
    ],
)
def test_a_body_that_is_not_json_is_a_415_and_writes_nothing(
    api: ApiCaller, content_type: str
) -> None:
    answer = api.call(
        "POST", "/flows", raw=b'{"name": "x"}', headers={"content-type": content_type}
    )
    _assert_error(answer, 415, "unsupported_media_type")
    assert _flow_names(api) == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON; Charset=UTF-8", ""]
)
def test_json_content_types_are_read_in_any_case_and_a_missing_one_means_json(
    api: ApiCaller, content_type: str
) -> None:
    answer = api.call(
        "POST", "/flows", raw=b'{"name": "x"}', headers={"content-type": content_type}
    )
    assert answer.status == 201
    assert _flow_names(api) == ["x"]


def test_a_request_without_a_body_needs_no_content_type(api: ApiCaller) -> None:
    answer = api.get("/flows", headers={"content-type": "text/plain"})
    assert answer.status == 200


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"name": "x", "n": NaN}', "NaN"),
        (b'{"name": "x", "n": Infinity}', "Infinity"),
        (b'{"name": "x", "n": 1e400}', "out of range"),
        (b'{"name": "x", "n": ' + b"9" * 5000 + b"}", "digits"),
        ('\ufeff{"name": "x"}'.encode(), "BOM"),
    ],
)
def test_what_strict_json_does_not_allow_is_a_400(api: ApiCaller, raw: bytes, why: str) -> None:
    answer = api.call("POST", "/flows", raw=raw)
    _assert_error(answer, 400, "invalid_json")
    assert why in answer.body["error"]["message"]


def test_a_lone_surrogate_in_the_path_is_a_422(api: ApiCaller) -> None:
    _assert_error(api.get(f"/work-queues/a{SURROGATE}"), 422, "invalid_unicode")


def _event_with_body(app: ApiApp, key: str, body: str, *, b64: bool) -> dict:
    event = http_api_event(
        "POST",
        "/flows",
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    event.update(body=body, isBase64Encoded=b64)
    return app.handle(event, None)


def test_base64_bodies_are_checked_like_plain_ones(app: ApiApp, admin_key: str) -> None:
    good = base64.b64encode(b'{"name": "b64"}').decode()
    assert _event_with_body(app, admin_key, good, b64=True)["statusCode"] == 201
    latin1 = base64.b64encode(b'{"name": "caf\xe9"}').decode()
    refused = _event_with_body(app, admin_key, latin1, b64=True)
    assert (refused["statusCode"], json.loads(refused["body"])["error"]["code"]) == (
        400,
        "invalid_encoding",
    )
    garbled = _event_with_body(app, admin_key, "not base64!", b64=True)
    assert garbled["statusCode"] == 400


def test_a_lambda_event_whose_body_holds_a_raw_surrogate_is_a_400(
    app: ApiApp, admin_key: str
) -> None:
    # The Lambda runtime decodes the event's JSON, so a body string can hold one directly.
    answer = _event_with_body(app, admin_key, f'{{"name": "a{SURROGATE}"}}', b64=False)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["error"]["code"] == "invalid_encoding"


def test_an_unauthenticated_caller_learns_nothing_about_the_body(api: ApiCaller) -> None:
    answer = api.call("POST", "/flows", raw=b"\xff", key="", headers={})
    _assert_error(answer, 401, "missing_credentials")
