"""`stratoflow deployments ls | pause | resume | delete` against the live API over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stratoflow.client import NotFoundError, StratoflowClient, load_client_settings
from tests.cli.conftest import Invoke
from tests.fixtures.live_api import LiveApi


def _client(live_api: LiveApi) -> StratoflowClient:
    return StratoflowClient(load_client_settings(api_url=live_api.url, api_key=live_api.key))


def _deploy(invoke: Invoke, name: str, *args: str) -> None:
    result = invoke("deploy", "flows/hello.py:hello", "--name", name, *args)
    assert result.exit_code == 0, result.output


def test_deployments_ls_lists_every_deployment_with_its_schedule(
    invoke: Invoke, s3: Any, project: Path
) -> None:
    _deploy(invoke, "nightly", "--cron", "0 2 * * *")
    _deploy(invoke, "hourly", "--interval", "3600", "--work-queue", "fast", "--paused")
    result = invoke("deployments", "ls")
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split() == ["ID", "NAME", "SCHEDULE", "WORK", "QUEUE", "INFRA", "PAUSED"]
    assert len(rows) == 2
    assert "hello/hourly" in rows[0]
    assert "every 3600s (UTC)" in rows[0]
    assert rows[0].split()[-3:] == ["fast", "local", "yes"]
    assert "hello/nightly" in rows[1]
    assert "cron '0 2 * * *' (UTC)" in rows[1]
    assert rows[1].endswith("no")


def test_pause_resume_and_delete_by_name_and_by_id(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path
) -> None:
    _deploy(invoke, "nightly", "--cron", "0 2 * * *")
    with _client(live_api) as client:
        deployment_id = client.read_deployment_by_name("hello", "nightly").id
        paused = invoke("deployments", "pause", "hello/nightly")
        assert paused.exit_code == 0, paused.output
        assert client.read_deployment(deployment_id).paused
        resumed = invoke("deployments", "resume", str(deployment_id))
        assert resumed.exit_code == 0, resumed.output
        assert not client.read_deployment(deployment_id).paused
        deleted = invoke("deployments", "delete", "hello/nightly")
        assert deleted.exit_code == 0, deleted.output
        assert f"Deleted hello/nightly ({deployment_id})" in deleted.output
        with pytest.raises(NotFoundError):
            client.read_deployment(deployment_id)


def test_deployment_commands_on_unknown_or_malformed_names_exit_2(invoke: Invoke) -> None:
    for command in ("pause", "resume", "delete"):
        unknown = invoke("deployments", command, "hello/missing")
        assert unknown.exit_code == 2, unknown.output
        assert "not found" in unknown.output
        assert "Traceback" not in unknown.output
    malformed = invoke("deployments", "pause", "no-slash")
    assert malformed.exit_code == 2
    assert "invalid deployment 'no-slash'" in malformed.output
