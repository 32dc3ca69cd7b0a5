"""The local stack's ECS container emulator against moto's ECS in process: a RunTask's container
command runs as a real child process with the definition's and the overrides' environment and
its secrets from Secrets Manager; the task ends STOPPED with the exit code; StopTask stops it
(SIGTERM, then SIGKILL after the grace); a secret that cannot be read fails the task at start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID

from stratoflow_functions.local.ecs_tasks import (
    EcsContainerEmulator,
    SecretsManagerSecrets,
    container_of,
)
from tests.e2e.local_stack import wait_for

REGION = "us-east-1"
DEADLINE = 30.0
DUMP_ENV = "import json, os, sys; json.dump(dict(os.environ), open('env.json', 'w')); sys.exit(3)"
IGNORE_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(600)"
)


@pytest.fixture
def clients(aws: None) -> dict[str, Any]:
    """ECS, Secrets Manager and EC2 clients of moto in process."""
    return {
        name: boto3.client(name, region_name=REGION) for name in ("ecs", "secretsmanager", "ec2")
    }


@pytest.fixture
def emulator(clients: dict[str, Any], tmp_path: Path) -> Iterator[EcsContainerEmulator]:
    """The container emulator, watching moto's ECS until the test ends."""
    emulator = _emulator(clients, tmp_path)
    emulator.start()
    yield emulator
    emulator.stop()


def _emulator(clients: dict[str, Any], tmp_path: Path) -> EcsContainerEmulator:
    return EcsContainerEmulator(
        tmp_path / "containers", SecretsManagerSecrets(clients["secretsmanager"]),
        account_id=DEFAULT_ACCOUNT_ID, region=REGION, poll_seconds=0.02, stop_grace=1.0,
        host_environ={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_SECRET_ACCESS_KEY": "x"},
    )  # fmt: skip


def _run(clients: dict[str, Any], code: str, **extra: Any) -> str:
    """Register a task definition running `python -c code` and run it on Fargate."""
    ecs = clients["ecs"]
    ecs.create_cluster(clusterName="local")
    definition = {
        "name": "flow",
        "image": "ignored/locally:latest",
        "memory": 512,
        "command": ["python", "-c", "raise SystemExit('the overrides replace this command')"],
        "environment": [{"name": "FROM_DEFINITION", "value": "d"}, {"name": "BOTH", "value": "d"}],
        **extra,
    }
    family = ecs.register_task_definition(
        family="stratoflow-test", containerDefinitions=[definition], networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    subnet = clients["ec2"].describe_subnets()["Subnets"][0]["SubnetId"]
    group = clients["ec2"].describe_security_groups()["SecurityGroups"][0]["GroupId"]
    vpc = {"subnets": [subnet], "securityGroups": [group]}
    overrides = {"containerOverrides": [{
        "name": "flow", "command": ["python", "-c", code],
        "environment": [{"name": "BOTH", "value": "o"}, {"name": "FROM_OVERRIDE", "value": "o"}],
    }]}  # fmt: skip
    task = ecs.run_task(
        cluster="local", taskDefinition=family, launchType="FARGATE", overrides=overrides,
        networkConfiguration={"awsvpcConfiguration": vpc},
    )["tasks"][0]  # fmt: skip
    return str(task["taskArn"])


def _task(clients: dict[str, Any], arn: str) -> dict[str, Any]:
    task: dict[str, Any] = clients["ecs"].describe_tasks(cluster="local", tasks=[arn])["tasks"][0]
    return task


def _stopped(clients: dict[str, Any], arn: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        task = _task(clients, arn)
        settled = task["lastStatus"] == "STOPPED" and "stopCode" in task
        return (
            task if settled and ("exitCode" in task["containers"][0] or _unstarted(task)) else None
        )

    return wait_for(check, DEADLINE, f"task {arn} to stop")


def _unstarted(task: dict[str, Any]) -> bool:
    return bool(task.get("stopCode") == "TaskFailedToStart")


def _folder(emulator: EcsContainerEmulator, arn: str) -> Path:
    return emulator.root / arn.rsplit("/", 1)[-1]


def test_a_task_runs_its_command_with_the_containers_environment_and_stops_with_its_exit_code(
    clients: dict[str, Any], emulator: EcsContainerEmulator
) -> None:
    secret = clients["secretsmanager"].create_secret(Name="launch-key", SecretString="sf_k3y")
    arn = _run(
        clients, DUMP_ENV, secrets=[{"name": "STRATOFLOW_API_KEY", "valueFrom": secret["ARN"]}]
    )
    task = _stopped(clients, arn)
    assert task["containers"][0]["exitCode"] == 3
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["stoppedReason"] == "Essential container in task exited"
    env = json.loads((_folder(emulator, arn) / "env.json").read_text())
    assert (env["FROM_DEFINITION"], env["BOTH"], env["FROM_OVERRIDE"]) == ("d", "o", "o")
    assert env["STRATOFLOW_API_KEY"] == "sf_k3y"  # injected from the secret, as ECS does
    assert env["STRATOFLOW_INFRASTRUCTURE_ID"] == arn
    assert "AWS_SECRET_ACCESS_KEY" not in env  # nothing of the stack's environment but the basics
    assert env["PATH"].split(":")[0] == str(Path(__import__("sys").executable).parent)


def test_while_the_process_runs_the_task_stays_running_and_stop_task_terminates_it(
    clients: dict[str, Any], emulator: EcsContainerEmulator
) -> None:
    arn = _run(clients, "import time; print('ready', flush=True); time.sleep(600)")
    output = _folder(emulator, arn) / "output.log"
    wait_for(lambda: output.exists() and "ready" in output.read_text(), DEADLINE, "the process")
    for _ in range(6):  # moto alone would have moved it to STOPPED by now
        assert _task(clients, arn)["lastStatus"] == "RUNNING"
    clients["ecs"].stop_task(cluster="local", task=arn, reason="cancelled by stratoflow")
    task = _stopped(clients, arn)
    assert task["containers"][0]["exitCode"] == 143  # SIGTERM
    assert (task["stopCode"], task["stoppedReason"]) == ("UserInitiated", "cancelled by stratoflow")
    assert not emulator.running


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(
    clients: dict[str, Any], emulator: EcsContainerEmulator
) -> None:
    arn = _run(clients, IGNORE_TERM)
    output = _folder(emulator, arn) / "output.log"
    wait_for(lambda: output.exists() and "ready" in output.read_text(), DEADLINE, "the process")
    clients["ecs"].stop_task(cluster="local", task=arn, reason="stop")
    assert _stopped(clients, arn)["containers"][0]["exitCode"] == 137  # SIGKILL


def test_a_secret_that_cannot_be_read_fails_the_task_before_anything_runs(
    clients: dict[str, Any], emulator: EcsContainerEmulator
) -> None:
    missing = f"arn:aws:secretsmanager:{REGION}:{DEFAULT_ACCOUNT_ID}:secret:gone-AbCdEf"
    arn = _run(clients, DUMP_ENV, secrets=[{"name": "STRATOFLOW_API_KEY", "valueFrom": missing}])
    task = _stopped(clients, arn)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("ResourceInitializationError: unable to pull secrets")
    assert "exitCode" not in task["containers"][0]
    assert not (_folder(emulator, arn) / "env.json").exists()


def test_tasks_left_by_a_previous_stack_are_stopped_at_start_not_run(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    arn = _run(clients, DUMP_ENV)  # no emulator watching: a task whose process is long gone
    emulator = _emulator(clients, tmp_path)
    emulator.start()
    try:
        task = _stopped(clients, arn)
        assert (task["stopCode"], task["stoppedReason"]) == (
            "TaskFailedToStart", "the local stack restarted"
        )  # fmt: skip
        assert not emulator.running
    finally:
        emulator.stop()


def test_stopping_the_emulator_stops_running_containers(
    clients: dict[str, Any], tmp_path: Path
) -> None:
    emulator = _emulator(clients, tmp_path)
    emulator.start()
    arn = _run(clients, "import time; time.sleep(600)")
    wait_for(lambda: arn in emulator.running, DEADLINE, "the container to start")
    process = emulator.running[arn].process
    emulator.stop()
    assert process.poll() == -15
    task = _task(clients, arn)
    assert (task["lastStatus"], task["containers"][0]["exitCode"]) == ("STOPPED", 143)
    assert task["stoppedReason"] == "the local stack stopped"


def test_json_keys_of_a_secret_resolve_as_ecs_resolves_them(clients: dict[str, Any]) -> None:
    arn = clients["secretsmanager"].create_secret(
        Name="doc", SecretString=json.dumps({"key": "v"})
    )["ARN"]
    secrets = SecretsManagerSecrets(clients["secretsmanager"])
    assert secrets.value(f"{arn}:key::") == "v"
    assert secrets.value("doc") == json.dumps({"key": "v"})


def test_overrides_replace_the_command_and_add_to_the_environment() -> None:
    definition = {"name": "flow", "command": ["a"], "environment": [{"name": "X", "value": "1"}]}
    other = {"name": "sidecar", "command": ["b"], "environment": [{"name": "X", "value": "2"}]}
    container = container_of(definition, {"containerOverrides": [other]})
    assert (container.command, container.environment) == (("a",), {"X": "1"})
    mine = {"name": "flow", "environment": [{"name": "Y", "value": "3"}]}
    container = container_of(definition, {"containerOverrides": [mine]})
    assert (container.command, container.environment) == (("a",), {"X": "1", "Y": "3"})
