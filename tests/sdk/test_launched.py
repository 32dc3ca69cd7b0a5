"""What `stratoflow execute` reads from its launcher, against real local HTTP servers: the ECS
task metadata endpoint (and every way it can fail, each falling back to the pid, or to no id for
a process an agent or launcher started), Secret
Manager's REST API, and google-auth's real default credentials refreshed at a local token URI."""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from stratoflow import flow
from stratoflow.runtime import LocalOrchestrator, RuntimeConfig
from stratoflow.runtime.context import current_flow_run
from stratoflow.runtime.engine import execute_flow_run
from stratoflow.runtime.launched import (
    ApiKeySecretError,
    LaunchSettings,
    fetch_api_key,
    google_access_token,
    infrastructure_id,
    load_launch_settings,
)
from stratoflow.runtime.results import LocalResultStore
from stratoflow.schemas import FlowCreate, FlowRunCreate, FlowRunHeartbeat

TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task/stratoflow/0123456789abcdef"
SECRET = "projects/acme/secrets/stratoflow-api-key/versions/3"


@dataclass
class FakeServer:
    """A local HTTP server answering `routes[path] = (status, body)`; it records requests."""

    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    hang: threading.Event | None = None
    url: str = ""

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        self.requests.append((handler.command, handler.path, dict(handler.headers), body))
        if self.hang is not None:
            self.hang.wait(10)  # held until the test ends: a metadata endpoint that never answers
        status, content = self.routes.get(handler.path.split("?")[0], (404, {"error": "no"}))
        data = content if isinstance(content, bytes) else json.dumps(content).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.answer(self)

        def do_POST(self) -> None:
            fake.answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield fake
    if fake.hang is not None:
        fake.hang.set()
    httpd.shutdown()
    httpd.server_close()


def test_the_launchers_id_wins_over_everything() -> None:
    settings = load_launch_settings(
        {"STRATOFLOW_INFRASTRUCTURE_ID": "job/stratoflow-1", "ECS_CONTAINER_METADATA_URI_V4": "x"}
    )
    assert infrastructure_id(settings, pid=7) == "job/stratoflow-1"


def test_a_process_started_by_hand_reports_its_pid() -> None:
    assert infrastructure_id(load_launch_settings({}), pid=7) == "pid:7"


def test_a_launched_process_with_no_id_of_its_own_reports_none_not_its_pid() -> None:
    """An agent or launcher set `STRATOFLOW_FLOW_RUN_ID` and recorded the run's id itself; a
    heartbeat with no id keeps that, where `pid:1` from a container would overwrite it."""
    settings = load_launch_settings({"STRATOFLOW_FLOW_RUN_ID": "0b7c"})
    assert settings.launched
    assert infrastructure_id(settings, pid=7) is None


def test_a_launched_process_still_reports_an_id_it_was_given() -> None:
    settings = load_launch_settings(
        {"STRATOFLOW_FLOW_RUN_ID": "0b7c", "STRATOFLOW_INFRASTRUCTURE_ID": "jobs/stratoflow-1"}
    )
    assert infrastructure_id(settings, pid=7) == "jobs/stratoflow-1"


def test_a_launched_ecs_task_reports_its_arn(server: FakeServer) -> None:
    server.routes["/v4/abc/task"] = (200, {"TaskARN": TASK_ARN})
    settings = load_launch_settings(
        {"STRATOFLOW_FLOW_RUN_ID": "0b7c", "ECS_CONTAINER_METADATA_URI_V4": f"{server.url}/v4/abc"}
    )
    assert infrastructure_id(settings, pid=7) == TASK_ARN


def test_a_launched_ecs_task_whose_metadata_fails_reports_none() -> None:
    settings = LaunchSettings(launched=True, ecs_metadata_uri="http://127.0.0.1:9/v4/abc")
    assert infrastructure_id(settings, pid=7) is None


@pytest.mark.parametrize(
    ("heartbeat_pid", "expected"), [(False, "container:stratoflow-x"), (True, "pid:{pid}")]
)  # the pid is filled in by the test: ids must be the same in every xdist worker
def test_the_engines_heartbeats_keep_the_recorded_id_unless_told_to_send_the_pid(
    tmp_path: Path, heartbeat_pid: bool, expected: str
) -> None:
    """What `stratoflow execute` runs: with no id to report (`heartbeat_pid=False`), the id an
    agent recorded survives the engine's heartbeats; a flow called by hand still sends its pid."""
    local = LocalOrchestrator()
    flow_id = local.create_flow(FlowCreate(name="beating")).id
    run = local.create_flow_run(FlowRunCreate(flow_id=flow_id))
    recorded = local.heartbeat_flow_run(
        run.id, FlowRunHeartbeat(infrastructure_id="container:stratoflow-x")
    ).heartbeat

    @flow(name="beating")
    def beating() -> bool:
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:  # until the engine's own heartbeat has gone out
            if local.read_flow_run(run.id).heartbeat != recorded:
                return True
            threading.Event().wait(0.01)
        return False

    runtime = RuntimeConfig(
        orchestrator=local, results=LocalResultStore(tmp_path), heartbeat_seconds=0.02,
        console=False, heartbeat_pid=heartbeat_pid,
    )  # fmt: skip
    outcome = execute_flow_run(beating, run, runtime)

    assert outcome.ok
    assert outcome.value is True  # the engine did beat before the flow ended
    assert local.read_flow_run(run.id).infrastructure_id == expected.format(pid=os.getpid())


@pytest.mark.parametrize(
    ("given", "expected"), [("container:stratoflow-x", "container:stratoflow-x"), (None, None)]
)
def test_a_subflows_heartbeats_name_what_its_parents_name(
    tmp_path: Path, given: str | None, expected: str | None
) -> None:
    """A subflow runs in its parent's process: its heartbeats carry the parent's id, or none for a
    launched run with no id of its own (never the pid, which would say `pid:1` in a container)."""
    local = LocalOrchestrator()

    @flow(name="child")
    def child() -> str:
        context = current_flow_run()
        assert context is not None
        run_id = context.flow_run_id
        deadline = time.monotonic() + 10.0
        while local.read_flow_run(run_id).heartbeat is None and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        return str(run_id)

    @flow(name="parent")
    def parent() -> str:
        return child()

    flow_id = local.create_flow(FlowCreate(name="parent")).id
    run = local.create_flow_run(FlowRunCreate(flow_id=flow_id))
    runtime = RuntimeConfig(
        orchestrator=local, results=LocalResultStore(tmp_path), heartbeat_seconds=0.02,
        console=False, infrastructure_id=given, heartbeat_pid=False,
    )  # fmt: skip
    outcome = execute_flow_run(parent, run, runtime)

    assert outcome.ok
    child_run = local.read_flow_run(UUID(outcome.value))
    assert child_run.heartbeat is not None  # the subflow did beat
    assert child_run.infrastructure_id == expected


def test_on_ecs_the_id_is_the_task_arn_from_the_metadata_endpoint(server: FakeServer) -> None:
    server.routes["/v4/abc/task"] = (200, {"Cluster": "stratoflow", "TaskARN": TASK_ARN})
    settings = load_launch_settings({"ECS_CONTAINER_METADATA_URI_V4": f"{server.url}/v4/abc"})
    assert infrastructure_id(settings, pid=7) == TASK_ARN
    assert [(m, p) for m, p, _, _ in server.requests] == [("GET", "/v4/abc/task")]


@pytest.mark.parametrize(
    "answer", [(500, {"error": "boom"}), (200, b"not json"), (200, {"Cluster": "c"}), (200, [])]
)
def test_an_unusable_metadata_answer_falls_back_to_the_pid(
    server: FakeServer, answer: tuple[int, Any]
) -> None:
    server.routes["/v4/abc/task"] = answer
    settings = LaunchSettings(ecs_metadata_uri=f"{server.url}/v4/abc")
    assert infrastructure_id(settings, pid=7) == "pid:7"


def test_an_unreachable_metadata_endpoint_falls_back_to_the_pid() -> None:
    settings = LaunchSettings(ecs_metadata_uri="http://127.0.0.1:9/v4/abc")  # discard port
    assert infrastructure_id(settings, pid=7) == "pid:7"


def test_a_metadata_endpoint_that_never_answers_costs_about_a_second(server: FakeServer) -> None:
    server.hang = threading.Event()
    settings = LaunchSettings(ecs_metadata_uri=f"{server.url}/v4/abc")
    started = time.monotonic()
    assert infrastructure_id(settings, pid=7) == "pid:7"
    assert time.monotonic() - started < 3.0


def _secret_route(server: FakeServer, key: str = "sf_the-key\n") -> None:
    data = base64.b64encode(key.encode()).decode()
    server.routes[f"/v1/{SECRET}:access"] = (200, {"name": SECRET, "payload": {"data": data}})


def test_the_key_is_read_from_secret_manager_with_the_token(server: FakeServer) -> None:
    _secret_route(server)
    key = fetch_api_key(SECRET, base_url=server.url, token_source=lambda: "fake-token")
    assert key == "sf_the-key"
    ((method, path, headers, _),) = server.requests
    assert (method, path) == ("GET", f"/v1/{SECRET}:access")
    assert headers["Authorization"] == "Bearer fake-token"


def test_a_refusal_names_the_secret_and_googles_reason(server: FakeServer) -> None:
    server.routes[f"/v1/{SECRET}:access"] = (
        403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no access"}},
    )  # fmt: skip
    with pytest.raises(ApiKeySecretError, match=f"{SECRET}: 403 PERMISSION_DENIED: no access"):
        fetch_api_key(SECRET, base_url=server.url, token_source=lambda: "t")


@pytest.mark.parametrize("payload", [{"payload": {"data": "!!"}}, {"payload": {}}, {"x": 1}])
def test_an_unreadable_payload_is_an_error(server: FakeServer, payload: dict[str, Any]) -> None:
    server.routes[f"/v1/{SECRET}:access"] = (200, payload)
    with pytest.raises(ApiKeySecretError, match="no readable payload"):
        fetch_api_key(SECRET, base_url=server.url, token_source=lambda: "t")


def test_a_name_that_is_not_a_version_is_refused_before_any_call() -> None:
    def no_token() -> str:
        raise AssertionError("no token should be asked for")

    with pytest.raises(ApiKeySecretError, match="not a Secret Manager version name"):
        fetch_api_key("stratoflow-api-key", token_source=no_token)


def test_google_auth_default_credentials_are_refreshed_for_the_token(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/token"] = (200, {"access_token": "ya29.local", "expires_in": 3600})
    _secret_route(server)
    credentials = tmp_path / "adc.json"
    credentials.write_text(json.dumps(_service_account(f"{server.url}/token")))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))
    assert google_access_token() == "ya29.local"
    assert fetch_api_key(SECRET, base_url=server.url) == "sf_the-key"
    assert server.requests[-1][2]["Authorization"] == "Bearer ya29.local"


def _service_account(token_uri: str) -> dict[str, str]:
    """A service-account key file whose token URI is the local server."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account", "project_id": "acme", "private_key_id": "k1",
        "private_key": pem, "client_email": "runner@acme.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": token_uri,
    }  # fmt: skip


def test_without_google_auth_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.auth", None)  # as if the extra were not installed
    with pytest.raises(ApiKeySecretError, match=r"pip install 'stratoflow\[gcp\]'"):
        google_access_token()


def test_the_key_is_wanted_from_the_secret_only_when_no_key_is_set() -> None:
    assert load_launch_settings({"STRATOFLOW_API_KEY_SECRET": SECRET}).needs_api_key_from_secret
    both = {"STRATOFLOW_API_KEY_SECRET": SECRET, "STRATOFLOW_API_KEY": "sf_x"}
    assert not load_launch_settings(both).needs_api_key_from_secret
    assert not load_launch_settings({}).needs_api_key_from_secret
    assert load_launch_settings(
        {"STRATOFLOW_SECRET_MANAGER_URL": "http://h/"}
    ).secret_manager_url == ("http://h")
