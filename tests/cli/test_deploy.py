"""`stratoflow deploy` against the live API over HTTP, with the code bucket on moto's S3."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from stratoflow.client import StratoflowClient, load_client_settings
from stratoflow.schemas import CodeBundle, CodeImage, CronSchedule, Deployment
from tests.cli.conftest import Invoke
from tests.fixtures.live_api import LiveApi


def _deployment(live_api: LiveApi, flow: str, name: str) -> Deployment:
    settings = load_client_settings(api_url=live_api.url, api_key=live_api.key)
    with StratoflowClient(settings) as client:
        return client.read_deployment_by_name(flow, name)


def _bundle_names(s3: Any, live_api: LiveApi, code: CodeBundle) -> set[str]:
    key = code.uri.removeprefix(f"s3://{live_api.settings.code_bucket}/")
    body = s3.get_object(Bucket=live_api.settings.code_bucket, Key=key)["Body"].read()
    return set(zipfile.ZipFile(io.BytesIO(body)).namelist())


def test_deploy_creates_the_deployment_with_its_schedule_params_and_uploaded_bundle(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path
) -> None:
    result = invoke(
        "deploy", "flows/hello.py:hello", "--name", "nightly", "--cron", "0 2 * * *",
        "--timezone", "Europe/Paris", "--param", "name=ada", "--param", "times=3",
        "--work-queue", "etl",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Deployed hello/nightly" in result.output
    assert "uploaded" in result.output
    assert "not uploaded" not in result.output
    found = _deployment(live_api, "hello", "nightly")
    assert found.entrypoint == "flows/hello.py:hello"
    assert found.parameters == {"name": "ada", "times": 3}
    assert found.work_queue == "etl"
    assert not found.paused
    schedule = found.schedules[0].schedule
    assert isinstance(schedule, CronSchedule)
    assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "Europe/Paris")
    assert isinstance(found.code, CodeBundle)
    assert found.code.uri == f"s3://{live_api.settings.code_bucket}/bundles/{found.code.sha256}.zip"
    assert _bundle_names(s3, live_api, found.code) == {
        "flows/hello.py", "flows/broken.py", "greeting.py",
    }  # fmt: skip


def test_deploy_with_parameters_the_flow_does_not_take_is_refused(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path
) -> None:
    """The flow's runs would fail on them: the API checks the defaults against the schema."""
    result = invoke(
        "deploy", "flows/hello.py:hello", "--name", "nightly",
        "--param", 'tags=["x", "y"]', "--param", "times=many",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "tags: unexpected parameter" in result.output
    assert "times: expected integer" in result.output


def test_a_second_deploy_of_unchanged_code_uploads_nothing(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path
) -> None:
    first = invoke("deploy", "flows/hello.py:hello", "--name", "again")
    assert first.exit_code == 0, first.output
    os.utime(project / "greeting.py", (1_000_000_000, 1_000_000_000))  # mtime is not content
    second = invoke("deploy", "flows/hello.py:hello", "--name", "again", "--interval", "3600")
    assert second.exit_code == 0, second.output
    assert "unchanged, not uploaded" in second.output
    found = _deployment(live_api, "hello", "again")
    assert isinstance(found.code, CodeBundle)
    assert found.code.sha256 in first.output
    assert found.schedules[0].schedule.type == "interval"


def test_deploy_honours_stratoflowignore_and_always_skips_caches(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path
) -> None:
    (project / ".stratoflowignore").write_text("# local only\n/data/\n*.env\n!keep.env\n")
    skipped = ["data/big.csv", "secret.env", ".venv/lib.py", "__pycache__/x.pyc"]
    skipped += ["node_modules/m.js", ".git/HEAD"]
    for name in [*skipped, "keep.env", "flows/data/ok.csv"]:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(name)
    result = invoke("deploy", "flows/hello.py:hello", "--name", "ignoring")
    assert result.exit_code == 0, result.output
    found = _deployment(live_api, "hello", "ignoring")
    assert isinstance(found.code, CodeBundle)
    assert _bundle_names(s3, live_api, found.code) == {
        ".stratoflowignore", "flows/hello.py", "flows/broken.py", "greeting.py", "keep.env",
        "flows/data/ok.csv",
    }  # fmt: skip


def test_deploy_with_an_image_records_it_and_uploads_nothing(
    invoke: Invoke, live_api: LiveApi, project: Path
) -> None:
    result = invoke(
        "deploy", "flows/hello.py:hello", "--name", "boxed", "--image", "acme/etl:1.2",
        "--infra", "ecs", "--paused", "--rrule", "FREQ=DAILY;BYHOUR=3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "image acme/etl:1.2" in result.output
    found = _deployment(live_api, "hello", "boxed")
    assert found.code == CodeImage(image="acme/etl:1.2")
    assert found.infrastructure.value == "ecs"
    assert found.paused


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["flows/missing.py:hello"], "no file 'flows/missing.py'"),
        (["flows/hello.py"], "expected FILE:FUNCTION"),
        (["flows/hello.py:nope"], "'nope' is not a @flow"),
        (["flows/hello.py:shout"], "'shout' is not a @flow"),
        (["../outside.py:hello"], "outside the project folder"),
        (["flows/hello.py:hello", "--param", "novalue"], "invalid --param 'novalue'"),
        (["flows/hello.py:hello", "--cron", "not a cron"], "invalid input"),
        (["flows/hello.py:hello", "--cron", "* * * * *", "--interval", "60"], "give one of"),
        (["flows/hello.py:hello", "--cron", "* * * * *", "--timezone", "Mars/Olympus"],
         "unknown IANA timezone 'Mars/Olympus'"),
        (["flows/hello.py:hello", "--timezone", "UTC"], "--timezone needs"),
        (["flows/hello.py:hello", "--interval", "0.5"], "interval_seconds"),
    ],
)  # fmt: skip
def test_bad_deploy_input_exits_2_with_a_message_naming_it(
    invoke: Invoke, s3: Any, project: Path, args: list[str], message: str
) -> None:
    (project.parent / "outside.py").write_text("x = 1\n")
    result = invoke("deploy", *args, "--name", "bad")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_bad_cron_message_comes_from_the_api_and_creates_no_deployment(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path
) -> None:
    result = invoke("deploy", "flows/hello.py:hello", "--name", "bad", "--cron", "61 * * * *")
    assert result.exit_code == 2
    assert "deploying flows/hello.py:hello: invalid input" in result.output
    settings = load_client_settings(api_url=live_api.url, api_key=live_api.key)
    with StratoflowClient(settings) as client:
        assert client.list_deployments().items == []


def test_deploy_leaves_out_links_outside_the_project_and_names_each_on_stderr(
    invoke: Invoke, live_api: LiveApi, s3: Any, project: Path
) -> None:
    secret = project.parent / "secret.env"
    secret.write_text("TOKEN=do-not-upload")
    (project / "config.env").symlink_to(secret)
    (project / "flows" / "home").symlink_to(project.parent, target_is_directory=True)
    (project / "alias.py").symlink_to(project / "greeting.py")  # inside: packed as a copy
    result = invoke("deploy", "flows/hello.py:hello", "--name", "linked")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"warning: not packed: config.env: a link to {secret}, outside the project folder",
        f"warning: not packed: flows/home: a link to a folder ({project.parent}), not followed",
    ]
    assert "(4 files, 2 left out, uploaded)" in result.stdout
    found = _deployment(live_api, "hello", "linked")
    assert isinstance(found.code, CodeBundle)
    assert _bundle_names(s3, live_api, found.code) == {
        "flows/hello.py", "flows/broken.py", "greeting.py", "alias.py",
    }  # fmt: skip


def test_deploy_with_a_bad_image_reference_exits_2_and_creates_nothing(
    invoke: Invoke, live_api: LiveApi, project: Path
) -> None:
    result = invoke("deploy", "flows/hello.py:hello", "--name", "bad", "--image", "file:///etc")
    assert result.exit_code == 2, result.output
    assert "invalid deployment" in result.output
    assert "image" in result.output
    settings = load_client_settings(api_url=live_api.url, api_key=live_api.key)
    with StratoflowClient(settings) as client:
        assert client.list_flows().items == []
