"""`stratoflow deploy --infra ... --set ... --infra-file ...` against the live API: the settings
arrive as typed, `--set` wins over the file, and a bad one is a message naming it, exit 2, with
nothing sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stratoflow.client import StratoflowClient, load_client_settings
from stratoflow.schemas import Deployment, InfrastructureType
from tests.cli.conftest import Invoke
from tests.fixtures.live_api import LiveApi

DEPLOY = ("deploy", "flows/hello.py:hello", "--name", "pushed")


def _client(live_api: LiveApi) -> StratoflowClient:
    return StratoflowClient(load_client_settings(api_url=live_api.url, api_key=live_api.key))


def _deployment(live_api: LiveApi) -> Deployment:
    with _client(live_api) as client:
        return client.read_deployment_by_name("hello", "pushed")


def test_set_gives_typed_nested_settings(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path
) -> None:
    result = invoke(
        *DEPLOY, "--infra", "ecs", "--set", "cpu=2048", "--set", "memory=4096",
        "--set", "env.WAREHOUSE=analytics", "--set", "env.PORT=8080",
        "--set", 'subnets=["subnet-0a1b"]', "--set", "assign_public_ip=true",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the stack's ecs launcher starts it" in result.output
    found = _deployment(live_api)
    assert found.infrastructure is InfrastructureType.ECS
    assert found.infra_overrides == {
        "cpu": 2048, "memory": 4096, "env": {"WAREHOUSE": "analytics", "PORT": 8080},
        "subnets": ["subnet-0a1b"], "assign_public_ip": True,
    }  # fmt: skip


def test_lambda_is_an_infrastructure(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path
) -> None:
    result = invoke(*DEPLOY, "--infra", "lambda", "--set", "timeout_seconds=300")
    assert result.exit_code == 0, result.output
    found = _deployment(live_api)
    assert found.infrastructure is InfrastructureType.LAMBDA
    assert found.infra_overrides == {"timeout_seconds": 300}


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_the_file_is_the_base_and_set_wins_over_it(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path, suffix: str
) -> None:
    file = project / f"k8s{suffix}"
    if suffix == ".toml":
        file.write_text(
            'namespace = "flows"\n[resources.limits]\ncpu = "1"\nmemory = "2Gi"\n'
            '[labels]\n"example.com/team" = "data"\n'
        )
    else:
        settings = {
            "namespace": "flows", "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
            "labels": {"example.com/team": "data"},
        }  # fmt: skip
        file.write_text(json.dumps(settings))
    result = invoke(
        *DEPLOY, "--infra", "kubernetes", "--infra-file", str(file),
        "--set", "resources.limits.cpu=2", "--set", 'labels."example.com/tier"=gold',
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _deployment(live_api).infra_overrides == {
        "namespace": "flows",
        "resources": {"limits": {"cpu": 2, "memory": "2Gi"}},
        "labels": {"example.com/team": "data", "example.com/tier": "gold"},
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--infra", "ecs", "--set", "cpuu=1024"), "ecs settings: cpuu: unknown setting"),
        (("--infra", "ecs", "--set", "cpu=256", "--set", "memory=8192"), "memory: with cpu 256"),
        (("--infra", "ecs", "--set", "env.STRATOFLOW_API_KEY=sf_x"), "set by the launcher"),
        (("--infra", "lambda", "--set", "timeout_seconds=3600"), "timeout_seconds"),
        (("--infra", "kubernetes", "--set", "resources.limits.cpu=lots"), "resources.limits.cpu"),
        (("--infra", "ecs", "--set", "cpu"), "invalid --set 'cpu': expected KEY=VALUE"),
        (("--infra", "ecs", "--set", "env..A=1"), "empty key segment"),
        (("--infra", "ecs", "--set", 'labels."a=1'), "unterminated quote"),
        (("--infra", "ecs", "--set", "cpu=1", "--set", "cpu.x=2"), "cpu is already set to 1"),
        (("--infra", "ecs", "--infra-file", "missing.json"), "--infra-file missing.json: cannot"),
        (("--infra", "local", "--set", "image=acme/etl:1"), "local settings: image: unknown"),
    ],
)
def test_a_bad_setting_is_named_exits_2_and_sends_nothing(
    invoke: Invoke, live_api: LiveApi, project: Path, args: tuple[str, ...], message: str
) -> None:
    result = invoke(*DEPLOY, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    with _client(live_api) as client:
        assert client.list_flows().items == []  # not even the flow was registered


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", "{cpu: 1}", "not valid JSON (name the file *.toml for TOML)"),
        ("bad.toml", "cpu = = 1", "not valid TOML"),
        ("list.json", "[1, 2]", "expected an object of settings"),
    ],
)
def test_an_unusable_infra_file_is_named_and_sends_nothing(
    invoke: Invoke, live_api: LiveApi, project: Path, name: str, content: str, message: str
) -> None:
    (project / name).write_text(content)
    result = invoke(*DEPLOY, "--infra", "ecs", "--infra-file", name)
    assert result.exit_code == 2, result.output
    assert f"--infra-file {name}: {message}" in result.output
    with _client(live_api) as client:
        assert client.list_flows().items == []
