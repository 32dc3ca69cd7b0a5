"""The API client against the real API over HTTP: typed results, the error tree, retries, auth
and settings precedence."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from stratoflow.client import (
    AsyncStratoflowClient,
    ConnectError,
    NotFoundError,
    ServerError,
    StratoflowClient,
    UnauthorizedError,
    get_client,
    load_client_settings,
)
from stratoflow.client._auth import SigV4Auth
from stratoflow.client.profile import read_profile, write_profile
from stratoflow.client.settings import ClientSettings
from stratoflow.schemas import FlowCreate, FlowRunCreate, LogCreate
from tests.fixtures.live_api import LiveApi
from tests.sdk.support import CountingTransport


def test_create_flow_returns_a_typed_flow(client: StratoflowClient) -> None:
    created = client.create_flow(FlowCreate(name="typed-etl"))
    assert created.name == "typed-etl"
    assert client.create_flow(FlowCreate(name="typed-etl")).id == created.id


def test_unknown_run_is_not_found_error_with_code_and_message(client: StratoflowClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.read_flow_run(uuid4())
    assert caught.value.status == 404
    assert caught.value.code == "not_found"


def test_missing_api_key_is_unauthorized(shared_api: LiveApi) -> None:
    settings = ClientSettings(api_url=shared_api.url)
    with StratoflowClient(settings) as client, pytest.raises(UnauthorizedError):
        client.list_flows()


def test_idempotent_call_is_retried_after_503(
    http: CountingTransport, client: StratoflowClient
) -> None:
    http.fail_next = [503, 503]
    assert client.health().status == "ok"
    assert http.calls["GET /health"] == 3


def test_non_idempotent_call_is_not_retried_after_503(
    http: CountingTransport, client: StratoflowClient
) -> None:
    http.fail_next = [503]
    with pytest.raises(ServerError):
        client.write_logs([LogCreate(flow_run_id=uuid4(), message="x")])
    assert http.calls["POST /logs"] == 1


def test_throttled_non_idempotent_call_is_retried(
    http: CountingTransport, client: StratoflowClient
) -> None:
    flow = client.create_flow(FlowCreate(name="throttled"))
    run = client.create_flow_run(FlowRunCreate(flow_id=flow.id))
    http.fail_next = [429]
    assert client.write_logs([LogCreate(flow_run_id=run.id, message="x")]).count == 1
    assert http.calls["POST /logs"] == 2


def test_unreachable_api_raises_connect_error_after_retries() -> None:
    attempts: list[int] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        raise httpx.ConnectError("refused", request=request)

    settings = ClientSettings(api_url="http://stratoflow.test", max_retries=2)
    client = StratoflowClient(settings, transport=httpx.MockTransport(refuse), sleep=lambda _: None)
    with pytest.raises(ConnectError):
        client.health()
    assert len(attempts) == 3


def test_async_client_reads_the_same_routes(shared_api: LiveApi) -> None:
    async def run() -> str:
        settings = ClientSettings(api_url=shared_api.url, api_key=shared_api.key)
        async with AsyncStratoflowClient(settings) as client:
            flow = await client.create_flow(FlowCreate(name="async-flow"))
            return flow.name

    assert asyncio.run(run()) == "async-flow"


def test_api_key_is_sent_as_bearer_token() -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization", ""))
        return httpx.Response(200, json={"status": "ok", "version": "1"})

    settings = ClientSettings(api_url="http://x.test", api_key="sf_abc")
    StratoflowClient(settings, transport=httpx.MockTransport(record)).health()
    assert seen == ["Bearer sf_abc"]


def test_sigv4_signs_for_execute_api() -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization", ""))
        return httpx.Response(200, json={"status": "ok", "version": "1"})

    url = "https://abc.execute-api.us-east-1.amazonaws.com"
    settings = ClientSettings(api_url=url, region="us-east-1")
    StratoflowClient(settings, transport=httpx.MockTransport(record)).health()
    assert seen[0].startswith("AWS4-HMAC-SHA256")
    assert "/us-east-1/execute-api/aws4_request" in seen[0]
    assert isinstance(SigV4Auth("us-east-1"), httpx.Auth)


def test_settings_precedence_is_profile_then_environment_then_arguments(tmp_path: Path) -> None:
    write_profile({"api_url": "http://profile", "api_key": "sf_profile"}, tmp_path / "profile.toml")
    env = {"STRATOFLOW_HOME": str(tmp_path), "STRATOFLOW_API_KEY": "sf_env"}
    settings = load_client_settings(env)
    assert (settings.api_url, settings.api_key) == ("http://profile", "sf_env")
    overridden = load_client_settings(env, api_url="http://flag/")
    assert overridden.api_url == "http://flag"
    assert overridden.api_key == "sf_env"


def test_profile_round_trips_and_merges(tmp_path: Path) -> None:
    path = tmp_path / "p" / "profile.toml"
    write_profile({"api_url": 'http://a "quoted"'}, path)
    write_profile({"api_key": "sf_k"}, path)
    assert read_profile(path) == {"api_url": 'http://a "quoted"', "api_key": "sf_k"}
    assert path.stat().st_mode & 0o777 == 0o600


def test_get_client_without_an_api_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="STRATOFLOW_API_URL"):
        get_client()
