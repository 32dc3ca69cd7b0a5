"""A deployment's entrypoint stays inside its code, and its code comes from the stack's own
code bucket or a container image: anything else is a 422 naming the problem, and nothing is
stored (neither a new deployment nor a change to an existing one)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratoflow.schemas import ApiKeyCreate, ApiKeyScope
from stratoflow_functions.api import ApiApp, ApiDeps
from stratoflow_functions.config import Settings
from stratoflow_functions.services.api_keys import create_api_key
from stratoflow_functions.store import Store
from tests.support import Answer, ApiCaller, FakeClock

SHA = "ab" * 32


def _deploy(api: ApiCaller, flow_id: str, **fields: Any) -> Answer:
    body = {"flow_id": flow_id, "name": "nightly", "entrypoint": "flows/etl.py:etl", **fields}
    return api.post("/deployments", body)


def _stored(api: ApiCaller) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/deployments").body["items"]
    return items


@pytest.mark.parametrize(
    ("entrypoint", "reason"),
    [
        ("../outside/evil.py:f", "contains '..'"),
        ("flows/../../evil.py:f", "contains '..'"),
        ("/etc/evil.py:f", "is absolute"),
        ("flows\\evil.py:f", "backslash"),
        ("C:\\evil.py:f", "backslash or a colon"),
        ("C:/evil.py:f", "backslash or a colon"),
        ("flows/evil\x00.py:f", "NUL"),
        ("flows/evil\n.py:f", "control character"),
        ("flows/etl.py:not-a-name", "is not a Python identifier"),
        ("flows/etl.py:1st", "is not a Python identifier"),
        ("flows/etl.py:class", "is not a Python identifier"),
        ("flows/etl.py:", "is not a Python identifier"),
        ("flows/etl.py", "path/to/file.py:function"),
        (":f", "path/to/file.py:function"),
        ("flows/etl.txt:f", "is not a .py file"),
    ],
)
def test_an_entrypoint_outside_the_code_is_a_422_and_stores_nothing(
    api: ApiCaller, flow_id: str, entrypoint: str, reason: str
) -> None:
    answer = _deploy(api, flow_id, entrypoint=entrypoint)
    assert answer.status == 422, answer.body
    assert answer.code == "validation_error"
    assert reason in json.dumps(answer.body["error"], ensure_ascii=False)
    assert _stored(api) == []


def _bundle(uri: str, sha256: str = SHA) -> dict[str, str]:
    return {"type": "bundle", "uri": uri, "sha256": sha256}


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc",
        "file:///tmp/bundle.zip",
        "/etc",
        "bundle.zip",
        f"s3://someone-elses-bucket/bundles/{SHA}.zip",
        f"s3://stratoflow-code-evil/bundles/{SHA}.zip",
        f"s3://stratoflow-code/other/{SHA}.zip",
        f"s3://stratoflow-code/bundles/{'cd' * 32}.zip",
        f"s3://stratoflow-code/bundles/{SHA}.zip/../../x",
        f"https://stratoflow-code.s3.amazonaws.com/bundles/{SHA}.zip",
    ],
)
def test_a_bundle_outside_the_code_bucket_is_a_422_and_stores_nothing(
    api: ApiCaller, flow_id: str, settings: Settings, uri: str
) -> None:
    assert settings.code_bucket == "stratoflow-code"
    answer = _deploy(api, flow_id, code=_bundle(uri))
    assert answer.status == 422, answer.body
    assert answer.code == "invalid_code_source"
    assert f"s3://stratoflow-code/bundles/{SHA}.zip" in answer.body["error"]["message"]
    assert _stored(api) == []


@pytest.mark.parametrize(
    "image", ["file:///etc", "--privileged", "acme/etl:1.2 --rm", "acme/etl:", "UPPER/Case", ""]
)
def test_a_code_image_that_is_not_an_image_reference_is_a_422(
    api: ApiCaller, flow_id: str, image: str
) -> None:
    answer = _deploy(api, flow_id, code={"type": "image", "image": image})
    assert answer.status == 422, answer.body
    assert answer.code == "validation_error"
    assert _stored(api) == []


def test_the_code_bucket_and_image_references_are_accepted(api: ApiCaller, flow_id: str) -> None:
    bundle = _deploy(api, flow_id, code=_bundle(f"s3://stratoflow-code/bundles/{SHA}.zip"))
    assert bundle.status == 201, bundle.body
    for image in ("acme/etl:1.2", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/etl@sha256:"
                  + "0" * 64, "localhost:5000/team/etl", "python:3.12-slim"):  # fmt: skip
        answer = _deploy(api, flow_id, code={"type": "image", "image": image})
        assert answer.status == 200, answer.body
        assert answer.body["code"] == {"type": "image", "image": image}


def test_a_refused_update_leaves_the_stored_deployment_as_it_was(
    api: ApiCaller, flow_id: str
) -> None:
    good = _deploy(api, flow_id, code=_bundle(f"s3://stratoflow-code/bundles/{SHA}.zip"))
    assert good.status == 201
    for bad in (
        {"entrypoint": "../outside/evil.py:f"},
        {"code": _bundle("file:///etc")},
        {"code": {"type": "image", "image": "file:///etc"}},
    ):
        assert _deploy(api, flow_id, **bad).status == 422
    (stored,) = _stored(api)
    assert stored["entrypoint"] == "flows/etl.py:etl"
    assert stored["code"] == _bundle(f"s3://stratoflow-code/bundles/{SHA}.zip")
    assert stored["updated"] == good.body["updated"]


def test_the_code_bucket_is_the_configured_one(store: Store, clock: FakeClock) -> None:
    settings = Settings(table_name="stratoflow-api-test", code_bucket="acme-flows-code")
    app = ApiApp(ApiDeps(store=store, settings=settings, clock=clock))
    key = create_api_key(store, ApiKeyCreate(name="a", scope=ApiKeyScope.ADMIN), clock()).key
    api = ApiCaller(app, key)
    flow_id = api.post("/flows", {"name": "etl"}).body["id"]
    default = _deploy(api, flow_id, code=_bundle(f"s3://stratoflow-code/bundles/{SHA}.zip"))
    assert default.status == 422
    assert f"s3://acme-flows-code/bundles/{SHA}.zip" in default.body["error"]["message"]
    own = _deploy(api, flow_id, code=_bundle(f"s3://acme-flows-code/bundles/{SHA}.zip"))
    assert own.status == 201, own.body


@pytest.mark.parametrize(
    ("infrastructure", "overrides", "named"),
    [
        ("ecs", {"cpuu": 1024}, "ecs settings: cpuu: unknown setting"),
        ("ecs", {"cpu": 256, "memory": 8192}, "ecs settings: memory: with cpu 256"),
        ("ecs", {"env": {"STRATOFLOW_API_KEY": "sf_plain"}}, "ecs settings: env:"),
        ("kubernetes", {"resources": {"limits": {"cpu": "lots"}}}, "resources.limits.cpu"),
        ("vertex", {"api_key_secret": "plain"}, "vertex settings: api_key_secret"),
        ("lambda", {"timeout_seconds": 3600}, "lambda settings: timeout_seconds"),
        ("local", {"image": "acme/etl:1"}, "local settings: image: unknown setting"),
    ],
)
def test_infra_settings_the_model_refuses_are_a_422_naming_the_field_and_store_nothing(
    api: ApiCaller, flow_id: str, infrastructure: str, overrides: dict[str, Any], named: str
) -> None:
    answer = _deploy(api, flow_id, infrastructure=infrastructure, infra_overrides=overrides)
    assert answer.status == 422, answer.body
    assert answer.code == "invalid_infra_settings"
    assert named in answer.body["error"]["message"]
    assert _stored(api) == []


def test_a_refused_infra_settings_update_leaves_the_stored_deployment_as_it_was(
    api: ApiCaller, flow_id: str
) -> None:
    good = _deploy(api, flow_id, infrastructure="ecs", infra_overrides={"cpu": 512, "memory": 1024})
    assert good.status == 201, good.body
    bad = _deploy(api, flow_id, infrastructure="ecs", infra_overrides={"cpu": 512, "memory": 1})
    assert bad.status == 422
    assert bad.code == "invalid_infra_settings"
    (stored,) = _stored(api)
    assert stored["infra_overrides"] == {"cpu": 512, "memory": 1024}
    assert stored["updated"] == good.body["updated"]


def test_settings_valid_for_their_infrastructure_are_stored_as_sent(
    api: ApiCaller, flow_id: str
) -> None:
    overrides = {"namespace": "flows", "resources": {"limits": {"cpu": 2}}, "env": {"A": "b"}}
    answer = _deploy(api, flow_id, infrastructure="kubernetes", infra_overrides=overrides)
    assert answer.status == 201, answer.body
    assert answer.body["infra_overrides"] == overrides
    moved = _deploy(api, flow_id, infrastructure="ecs", infra_overrides=overrides)
    assert moved.status == 422  # the same values are not ECS settings
    assert "ecs settings: namespace: unknown setting" in moved.body["error"]["message"]
