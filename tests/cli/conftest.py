"""Fixtures of the CLI tests: the live API over HTTP (moto's server for DynamoDB and S3), its
code bucket, a clean home with the API in the environment, and a small flow project."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from stratoflow.cli import cli
from tests.fixtures.live_api import LiveApi

STRATOFLOW = str(Path(sys.executable).parent / "stratoflow")
"""The console script of this environment, as an agent or a container would run it."""

HELLO = """
from greeting import greet
from stratoflow import flow, get_run_logger, task


@task
def shout(text: str) -> str:
    return text.upper()


@flow(name="hello")
def hello(name: str = "world", times: int = 1) -> str:
    get_run_logger().info("saying hello to %s x%d", name, times)
    return shout(greet(name)) * times
"""

BROKEN = """
from stratoflow import flow


@flow(name="broken")
def broken() -> None:
    raise ValueError("this flow always fails")
"""


@pytest.fixture
def api_env(live_api: LiveApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The live API in the environment (as a user's shell has it) and a home of its own."""
    env = {
        "STRATOFLOW_HOME": str(tmp_path / "home"),
        "STRATOFLOW_API_URL": live_api.url,
        "STRATOFLOW_API_KEY": live_api.key,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def s3(live_api: LiveApi) -> Any:
    """An S3 client of the emulator, with the API's code bucket created."""
    client = boto3.client(
        "s3", region_name=live_api.settings.region, endpoint_url=live_api.settings.aws_endpoint_url
    )
    client.create_bucket(Bucket=live_api.settings.code_bucket)  # moto: harmless if it exists
    return client


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A flow project as the current directory; its content is unique to this test, so its
    bundle is new to the emulator's S3 (which every test in this process shares)."""
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "hello.py").write_text(HELLO)
    (root / "flows" / "broken.py").write_text(BROKEN)
    (root / "greeting.py").write_text(
        f'def greet(name):\n    return "hi " + name  # {uuid.uuid4()}\n'
    )
    monkeypatch.chdir(root)
    return root


Invoke = Callable[..., Result]


@pytest.fixture
def invoke(api_env: dict[str, str]) -> Invoke:
    """Run `stratoflow ARGS...` in this process, configured from the environment."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj={})

    return run


def execute_env(api_env: dict[str, str]) -> dict[str, str]:
    """The environment of a launched `stratoflow execute` process."""
    return {**os.environ, **api_env}
