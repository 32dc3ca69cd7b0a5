"""The Lambda runner of `--infra lambda` (`handlers/runner.py`) against the live API over real
HTTP: bundle deployments made by `stratoflow deploy`, the API key read from the emulator's
Secrets Manager, the run executed in this process to COMPLETED with its task runs and logs; a
warm runner imports each run's own code; unusable runs and bad events fail the invocation."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import boto3
import pytest

from stratoflow.client import StratoflowClient, load_client_settings
from stratoflow.schemas import Deployment, DeploymentCreate, DeploymentRunCreate, StateType
from stratoflow_functions.handlers.runner import Runner, RunnerError, load_runner_config
from tests.fixtures.live_api import LiveApi

STRATOFLOW = str(Path(sys.executable).with_name("stratoflow"))
FLOW = """
from runner_greeting import greet
from stratoflow import flow, get_run_logger, task


@task
def shout(text: str) -> str:
    return text.upper()


@flow(name="{name}")
def hello(name: str = "world", nap: float = 0) -> str:
    import os, time

    get_run_logger().info("greeting: %s", greet(name))
    get_run_logger().info("mark: %s", os.environ.get("RUNNER_TEST_MARK", "unset"))
    time.sleep(nap)
    return shout(greet(name))
"""


@pytest.fixture
def api(live_api: LiveApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LiveApi:
    """The live API in the environment of the CLI (deploy) calls, with a home of its own."""
    monkeypatch.setenv("STRATOFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STRATOFLOW_API_URL", live_api.url)
    monkeypatch.setenv("STRATOFLOW_API_KEY", live_api.key)
    return live_api


@pytest.fixture
def secret_arn(api: LiveApi) -> str:
    """A secret in the emulator's Secrets Manager holding the API's key."""
    secrets = _secrets(api)
    name = f"stratoflow/launch-key-{uuid.uuid4().hex[:8]}"
    return str(secrets.create_secret(Name=name, SecretString=api.key)["ARN"])


@pytest.fixture
def runner(api: LiveApi, secret_arn: str, tmp_path: Path) -> Runner:
    """A runner configured as the stack configures the Lambda function."""
    env = {
        "STRATOFLOW_API_URL": api.url,
        "STRATOFLOW_API_KEY_SECRET": secret_arn,
        "STRATOFLOW_AWS_ENDPOINT_URL": str(api.settings.aws_endpoint_url),
        "AWS_REGION": api.settings.region,
        "STRATOFLOW_HOME": str(tmp_path / "runner-home"),
    }
    return Runner(load_runner_config(env))


def _secrets(api: LiveApi) -> Any:
    return boto3.client(
        "secretsmanager",
        region_name=api.settings.region,
        endpoint_url=api.settings.aws_endpoint_url,
    )


def _client(api: LiveApi) -> StratoflowClient:
    return StratoflowClient(load_client_settings(api_url=api.url, api_key=api.key))


def _deploy(root: Path, flow_name: str, greeting: str, *options: str) -> None:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "hello.py").write_text(FLOW.replace("{name}", flow_name))
    # A module name of this test module's own: other tests' projects leave `greeting` imported.
    (root / "runner_greeting.py").write_text(f"def greet(name):\n    return {greeting!r} + name\n")
    # A process of its own, as a user deploys: its imports of the project stay out of this one.
    deployed = subprocess.run(
        [STRATOFLOW, "deploy", "flows/hello.py:hello", "--name", "lambda", *options],
        cwd=root, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr


def _deployed(api: LiveApi, flow_name: str) -> Deployment:
    with _client(api) as client:
        return client.read_deployment_by_name(flow_name, "lambda")


def _start(api: LiveApi, deployment: Deployment, **parameters: Any) -> str:
    with _client(api) as client:
        body = DeploymentRunCreate(parameters=parameters)
        return str(client.create_deployment_run(deployment.id, body).id)


def test_a_lambda_deployments_env_and_timeout_apply_to_its_run_and_no_further(
    api: LiveApi, runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_name = f"bounded-{uuid.uuid4().hex[:8]}"
    settings = ("--set", "env.RUNNER_TEST_MARK=from-the-deployment", "--set", "timeout_seconds=1")
    _deploy(tmp_path / "project", flow_name, "hi ", "--infra", "lambda", *settings)
    deployment = _deployed(api, flow_name)
    monkeypatch.chdir(tmp_path)

    quick = runner.run({"flow_run_id": _start(api, deployment)}, "lambda:env")
    slow_id = _start(api, deployment, nap=5)
    slow = runner.run({"flow_run_id": slow_id}, "lambda:timeout")

    assert quick["state"] == "COMPLETED"
    with _client(api) as client:
        messages = [log.message for log in client.list_logs(UUID(quick["flow_run_id"])).items]
        timed_out = client.read_flow_run(UUID(slow_id)).state
    assert "mark: from-the-deployment" in messages
    assert "RUNNER_TEST_MARK" not in os.environ  # a warm runner's next run starts clean
    assert slow["state"] == "FAILED"
    assert timed_out.name == "TimedOut"
    assert "exceeded 1" in (timed_out.message or "")


def test_the_runner_executes_a_bundle_run_to_completed_with_its_task_runs_and_logs(
    api: LiveApi, runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_name = f"hello-{uuid.uuid4().hex[:8]}"
    _deploy(tmp_path / "project", flow_name, "hi ")
    run_id = _start(api, _deployed(api, flow_name))
    monkeypatch.chdir(tmp_path)  # the runner finds its code in the bundle, not the project
    path_before = list(sys.path)
    answer = runner.run({"flow_run_id": run_id}, infrastructure_id="lambda:runner:req-1")
    assert answer == {"flow_run_id": run_id, "state": "COMPLETED"}
    assert sys.path == path_before  # nothing of the run's code is left on the import path
    with _client(api) as client:
        run = client.read_flow_run(run_id)
        assert run.state.type == StateType.COMPLETED
        assert [t.state.type for t in client.list_task_runs(run_id).items] == ["COMPLETED"]
        messages = [log.message for log in client.list_logs(run_id).items]
    assert "greeting: hi world" in messages


def test_a_warm_runner_imports_each_runs_own_code_not_a_cached_copy(
    api: LiveApi, runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = (f"warm-{n}-{uuid.uuid4().hex[:8]}" for n in (1, 2))
    _deploy(tmp_path / "one", first, "first says ")
    _deploy(tmp_path / "two", second, "second says ")  # same module names
    monkeypatch.chdir(tmp_path)
    for flow_name, expected in ((first, "first says world"), (second, "second says world")):
        run_id = _start(api, _deployed(api, flow_name))
        assert runner.run({"flow_run_id": run_id}, "lambda:warm")["state"] == "COMPLETED"
        with _client(api) as client:
            messages = [log.message for log in client.list_logs(run_id).items]
        assert f"greeting: {expected}" in messages
    assert "runner_greeting" not in sys.modules


def test_a_run_whose_entrypoint_is_unusable_is_failed_with_the_reason_and_the_call_fails(
    api: LiveApi, runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_name = f"broken-{uuid.uuid4().hex[:8]}"
    _deploy(tmp_path / "project", flow_name, "hi ")
    good = _deployed(api, flow_name)
    with _client(api) as client:
        body = DeploymentCreate(
            flow_id=good.flow_id, name="gone", entrypoint="flows/hello.py:missing", code=good.code
        )
        bad = client.create_deployment(body)
        run_id = str(client.create_deployment_run(bad.id).id)
    with pytest.raises(RunnerError, match="'missing' is not a @flow"):
        runner.run({"flow_run_id": run_id}, "lambda:broken")
    with _client(api) as client:
        run = client.read_flow_run(run_id)
    assert run.state.type == StateType.FAILED
    assert "'missing' is not a @flow" in (run.state.message or "")


@pytest.mark.parametrize(
    ("event", "message"),
    [({}, 'no "flow_run_id"'), ({"flow_run_id": "not-a-uuid"}, "is not a UUID")],
)
def test_an_event_without_a_run_id_fails_with_a_clear_message(
    runner: Runner, event: dict[str, Any], message: str
) -> None:
    with pytest.raises(RunnerError, match=message) as caught:
        runner.run(event, "lambda:bad")
    assert caught.value.code == "invalid_event"


def test_an_unknown_run_fails_the_invocation_naming_it(runner: Runner) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(RunnerError, match=f"flow run {missing}: not found"):
        runner.run({"flow_run_id": missing}, "lambda:missing")


def test_an_empty_key_secret_fails_with_a_message_naming_the_secret(api: LiveApi) -> None:
    name = f"stratoflow/empty-{uuid.uuid4().hex[:8]}"
    arn = str(_secrets(api).create_secret(Name=name, SecretString=" ")["ARN"])
    env = {"STRATOFLOW_API_URL": api.url, "STRATOFLOW_API_KEY_SECRET": arn,
           "STRATOFLOW_AWS_ENDPOINT_URL": str(api.settings.aws_endpoint_url)}  # fmt: skip
    with pytest.raises(RunnerError, match=f"{name}.*holds no key"):
        Runner(load_runner_config(env)).run({"flow_run_id": str(uuid.uuid4())}, "lambda:x")


def test_without_a_secret_the_runner_signs_with_its_iam_credentials_and_ignores_a_key() -> None:
    env = {"STRATOFLOW_API_URL": "https://api.example.com", "STRATOFLOW_API_KEY": "sf_leaked"}
    config = load_runner_config(env)
    assert config.client.auth == "sigv4"
    assert config.client.api_key is None  # keys travel only by reference
    assert config.client.home.name == "stratoflow"  # under the temporary folder, writable
    with StratoflowClient(Runner(config).client_settings()) as client:
        assert client.settings.auth == "sigv4"
