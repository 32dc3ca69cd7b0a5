"""The local stack's ECS container emulator: each task moto's ECS holds is run as a local child
process, as an ECS agent would run its container, and moto's task follows the process.

moto records RunTask and never runs anything. Here a watcher thread looks at moto's ECS backend
(in process) for tasks it has not started; for each it resolves the container as ECS would (the
task definition's container `command` and `environment`, the task's `containerOverrides` on
top, `secrets` read from the emulator's Secrets Manager and injected as variables, and
`STRATOFLOW_INFRASTRUCTURE_ID` = the task ARN) and starts that command as a child process. The
image is ignored: the command runs with the local stack's own Python environment (its `bin`
folder first on the PATH, so `stratoflow` is the stack's own). When the process ends, the task
becomes STOPPED with `containers[0].exitCode`, `stopCode: EssentialContainerExited` and a
`stoppedReason`; a StopTask on a running task sends SIGTERM to the process group, then
SIGKILL after a grace period. A secret that cannot be read fails the task before it starts
(`TaskFailedToStart`, as ECS reports a `ResourceInitializationError`).

moto moves a task towards STOPPED a step per DescribeTasks; while the watcher runs, moto's
task states are held (manual progression that never fires), so only the process decides.
Tasks found at start belong to a previous stack whose processes are gone: they are stopped.
Each task's output goes to `<root>/<task id>/output.log`; its working folder is that folder.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
TASK_MODEL = "ecs::task"
NEVER = sys.maxsize
"""A manual-progression count no DescribeTasks sequence reaches: moto never moves a task."""
HOST_VARIABLES = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
"""What a container process takes from the stack's environment (nothing else leaks in)."""


class SecretUnavailableError(Exception):
    """A container's secret cannot be read (missing, or a kind the emulator does not hold)."""


@dataclass(frozen=True)
class Container:
    """What one task's container runs: its command and its whole environment."""

    command: tuple[str, ...]
    environment: dict[str, str] = field(repr=False)
    secrets: tuple[tuple[str, str], ...] = ()
    """(variable, valueFrom) pairs, resolved when the container starts."""


def container_of(definition: Mapping[str, Any], overrides: Mapping[str, Any]) -> Container:
    """The container a task runs: its definition with the task's container overrides applied.

    Args:
        definition: The task definition's container (`name`, `command`, `environment`,
            `secrets`).
        overrides: The task's `overrides` (their `containerOverrides` for this container).
    """
    override: Mapping[str, Any] = next(
        (
            entry
            for entry in overrides.get("containerOverrides") or []
            if entry.get("name") == definition.get("name")
        ),
        {},
    )
    command = override.get("command") or definition.get("command") or []
    environment = _pairs(definition.get("environment"))
    environment.update(_pairs(override.get("environment")))
    secrets = tuple(
        (str(item["name"]), str(item["valueFrom"])) for item in definition.get("secrets") or []
    )
    return Container(tuple(str(part) for part in command), environment, secrets)


def _pairs(items: Any) -> dict[str, str]:
    return {str(item["name"]): str(item.get("value", "")) for item in items or []}


class SecretsManagerSecrets:
    """Reads a container's `secrets` from the emulator's Secrets Manager, as ECS would.

    `valueFrom` is a secret ARN or name, optionally followed by `:json-key:version-stage:
    version-id` (ECS's form); SSM parameters are not emulated.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def value(self, value_from: str) -> str:
        """The secret's value (a JSON key of it when `value_from` names one).

        Raises:
            SecretUnavailableError: the secret does not exist or cannot be read.
        """
        secret_id, json_key, stage, version = _split_value_from(value_from)
        request: dict[str, str] = {"SecretId": secret_id}
        if stage:
            request["VersionStage"] = stage
        if version:
            request["VersionId"] = version
        try:
            text = str(self.client.get_secret_value(**request).get("SecretString") or "")
        except Exception as exc:  # any failure of the read is the task's failure to start
            raise SecretUnavailableError(f"cannot read secret {secret_id}: {exc}") from None
        return _json_field(text, json_key, secret_id) if json_key else text


def _split_value_from(value_from: str) -> tuple[str, str, str, str]:
    if not value_from.startswith("arn:"):
        return value_from, "", "", ""
    parts = value_from.split(":")
    if parts[2] != "secretsmanager":
        raise SecretUnavailableError(f"{value_from}: only Secrets Manager secrets are emulated")
    extra = [*parts[7:], "", "", ""][:3]
    return ":".join(parts[:7]), extra[0], extra[1], extra[2]


def _json_field(text: str, key: str, secret_id: str) -> str:
    import json

    try:
        return str(json.loads(text)[key])
    except (ValueError, KeyError, TypeError):
        raise SecretUnavailableError(f"secret {secret_id} has no JSON key {key!r}") from None


@dataclass
class _Running:
    """A started container: its moto task and process, and when it was asked to stop."""

    task: Any
    process: subprocess.Popen[bytes]
    stop_asked: float | None = None


class EcsContainerEmulator:
    """Runs moto's ECS tasks as local processes until `stop()`.

    Args:
        root: Where each task's folder (working directory, `output.log`) is made.
        secrets: Resolves containers' `secrets`.
        account_id: The emulator's account (moto's default account).
        region: The emulator's region.
        host_environ: The stack's environment (only `HOST_VARIABLES` and PATH are taken).
        poll_seconds: How often moto's backend is looked at.
        stop_grace: Seconds between the SIGTERM and the SIGKILL of a stopped task.
    """

    def __init__(
        self,
        root: Path,
        secrets: SecretsManagerSecrets,
        *,
        account_id: str,
        region: str,
        host_environ: Mapping[str, str] | None = None,
        poll_seconds: float = 0.1,
        stop_grace: float = 10.0,
    ) -> None:
        self.root = root
        self.secrets = secrets
        self.account_id = account_id
        self.region = region
        self.host_environ = dict(os.environ if host_environ is None else host_environ)
        self.poll_seconds = poll_seconds
        self.stop_grace = stop_grace
        self.running: dict[str, _Running] = {}
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Hold moto's task states, stop tasks left from before, and start watching."""
        from moto.moto_api import state_manager

        state_manager.set_transition(TASK_MODEL, {"progression": "manual", "times": NEVER})
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for task in list(self._tasks()):
            self._seen.add(task.task_arn)
            if task.last_status != "STOPPED":
                _mark_stopped(task, None, "TaskFailedToStart", "the local stack restarted")
        self._thread = threading.Thread(target=self._watch, name="stratoflow-ecs", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.tick()
            except Exception:  # one bad tick must not end the emulation
                logger.exception("the ECS container emulator failed a tick")

    def tick(self) -> None:
        """Start new tasks, settle ended ones, and stop those a StopTask asked to stop."""
        for task in list(self._tasks()):
            if task.task_arn not in self._seen:
                self._seen.add(task.task_arn)
                self._launch(task)
        for arn, running in list(self.running.items()):
            self._follow(arn, running)

    def _tasks(self) -> Iterator[Any]:
        from moto.ecs.models import ecs_backends

        backend = ecs_backends[self.account_id][self.region]
        for tasks in list(backend.tasks.values()):
            yield from list(tasks.values())

    def _launch(self, task: Any) -> None:
        if task.desired_status == "STOPPED":
            return  # stopped before it started: nothing to run
        try:
            container = self._container(task)
            environment = self._environment(task, container)
        except SecretUnavailableError as exc:
            reason = f"ResourceInitializationError: unable to pull secrets: {exc}"
            _mark_stopped(task, None, "TaskFailedToStart", reason)
            return
        if not container.command:
            _mark_stopped(task, None, "TaskFailedToStart", "the container has no command")
            return
        self.running[task.task_arn] = _Running(task, self._spawn(task, container, environment))
        task.started_at = datetime.now(UTC)
        task.containers[0].last_status = "RUNNING"

    def _container(self, task: Any) -> Container:
        from moto.ecs.models import ecs_backends

        backend = ecs_backends[self.account_id][self.region]
        definition = backend.describe_task_definition(task.task_definition_arn)
        return container_of(definition.container_definitions[0], task.overrides or {})

    def _environment(self, task: Any, container: Container) -> dict[str, str]:
        environment = {k: v for k, v in self.host_environ.items() if k in HOST_VARIABLES}
        python_bin = str(Path(sys.executable).parent)
        environment["PATH"] = os.pathsep.join([python_bin, self.host_environ.get("PATH", "")])
        environment.update(container.environment)
        for name, value_from in container.secrets:
            environment[name] = self.secrets.value(value_from)
        environment["STRATOFLOW_INFRASTRUCTURE_ID"] = task.task_arn
        folder = self._folder(task)
        environment.setdefault("STRATOFLOW_HOME", str(folder / "home"))
        return environment

    def _folder(self, task: Any) -> Path:
        folder: Path = self.root / str(task.id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder

    def _spawn(
        self, task: Any, container: Container, environment: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        folder = self._folder(task)
        with (folder / "output.log").open("ab") as output:
            process = subprocess.Popen(  # noqa: S603 - the task's own command, as ECS runs it
                list(container.command),
                env=environment,
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a stop reaches all it started
            )
        logger.info("ECS task %s started as pid %s", task.id, process.pid)
        return process

    def _follow(self, arn: str, running: _Running) -> None:
        code = running.process.poll()
        if code is not None:
            del self.running[arn]
            _settle(running.task, code)
        elif running.task.desired_status == "STOPPED":
            self._stop_process(running)

    def _stop_process(self, running: _Running) -> None:
        now = time.monotonic()
        if running.stop_asked is None:
            running.stop_asked = now
            _signal_group(running.process.pid, signal.SIGTERM)
        elif now - running.stop_asked > self.stop_grace:
            _signal_group(running.process.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop watching, stop every running container, and let moto move tasks again."""
        from moto.moto_api import state_manager

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for running in self.running.values():
            running.task.desired_status = "STOPPED"
            running.task.stopped_reason = "the local stack stopped"
            _signal_group(running.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for running in self.running.values():
            _settle(running.task, _ended(running.process, deadline))
        self.running.clear()
        state_manager.unset_transition(TASK_MODEL)


def _ended(process: subprocess.Popen[bytes], deadline: float) -> int:
    """The process's exit code, killing its group once `deadline` has passed."""
    try:
        return process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        return process.wait()


def _settle(task: Any, code: int) -> None:
    """Mark the task STOPPED after its container process ended with `code`."""
    exit_code = 128 - code if code < 0 else code  # killed by signal N: a shell's 128 + N
    if task.desired_status == "STOPPED":  # a StopTask: moto already holds its reason
        _mark_stopped(task, exit_code, "UserInitiated", task.stopped_reason or "Task stopped")
        return
    reason = "Essential container in task exited"
    _mark_stopped(task, exit_code, "EssentialContainerExited", reason)


def _mark_stopped(task: Any, exit_code: int | None, stop_code: str, reason: str) -> None:
    container = task.containers[0]
    container.last_status = "STOPPED"
    container.exitCode = exit_code
    if exit_code is None:
        container.reason = reason
    task.stop_code = stop_code
    task.stopped_reason = reason
    task.stopped_at = datetime.now(UTC)
    task.desired_status = "STOPPED"
    task.last_status = "STOPPED"
    logger.info("ECS task %s stopped (%s, exit code %s)", task.id, stop_code, exit_code)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:  # already gone
        return
