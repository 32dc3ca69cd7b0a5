"""Push launches on the local stack (DESIGN10 section 4): the launcher state machines, their
functions, an ECS cluster and the launched runs' API key, made in the emulator at every start.

What is real: the four state machines of `launchers/definitions/*.asl.json` (their
`${LauncherFunctionArn}` / `${RunnerFunctionArn}` substituted), executed by moto's Step
Functions interpreter (`execute_state_machine`), calling the emulator's Lambda and ECS. What
is emulated: each launcher function runs `handlers/launcher.py`'s steps in this process
(`moto_lambda`); the runner function runs `stratoflow execute <id>` as a child process (what a
Lambda sandbox isolates); ECS tasks run as child processes (`ecs_tasks.py`). Runs of `ecs` and
`lambda` deployments are pushed (their launcher ARNs set); the Kubernetes and Vertex machines
are created but not routed, as the local stack has no cluster or GCP project to launch on.

The launched runs' API key is a regular key made at each start (the previous start's is
revoked) and kept in a Secrets Manager secret of the emulator; it goes to processes through
their environment only, never to a log. None of this is durable (`recording.UNLOGGED_SERVICES`):
a restart builds it again, and tasks or executions in flight at a stop are gone.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from stratoflow.schemas import ApiKeyCreate, ApiKeyScope, InfrastructureType
from stratoflow_functions.config import Settings
from stratoflow_functions.handlers.runner import RunnerError, flow_run_id
from stratoflow_functions.local.ecs_tasks import (
    HOST_VARIABLES,
    EcsContainerEmulator,
    SecretsManagerSecrets,
)
from stratoflow_functions.local.emulator import Emulator
from stratoflow_functions.local.moto_sfn_clients import point_sfn_clients_at
from stratoflow_functions.services.api_keys import create_api_key
from stratoflow_functions.store import Store

logger = logging.getLogger(__name__)
LAUNCH_KEY_NAME = "local-launcher"
SECRET_NAME = "stratoflow/local/launch-api-key"  # noqa: S105 - a name, not a value
ROLE_NAME = "stratoflow-local-launcher"
CLUSTER_NAME = "stratoflow-local"
LOG_GROUP = "/stratoflow/local/tasks"
RUNNER_FUNCTION = "stratoflow-runner"
RUNNER_TIMEOUT_SECONDS = 900
LAUNCHER_TIMEOUT_SECONDS = 60
MACHINES = (
    InfrastructureType.ECS,
    InfrastructureType.KUBERNETES,
    InfrastructureType.VERTEX,
    InfrastructureType.LAMBDA,
)
ROUTED = frozenset({InfrastructureType.ECS, InfrastructureType.LAMBDA})
"""The infrastructure whose runs the local stack pushes (the others wait for a pull agent)."""
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class LocalLaunchers:
    """What `start_launchers` made: the settings to serve with and what to stop."""

    settings: Settings
    containers: EcsContainerEmulator
    functions: list[str] = field(default_factory=list)
    executed_before: bool = False
    """moto's `execute_state_machine` before the start (put back at the stop)."""

    def stop(self) -> None:
        """Stop the ECS containers, forget the in-process functions, restore moto's config."""
        from moto.core.config import default_user_config

        from stratoflow_functions.local.moto_lambda import unregister_local_function

        self.containers.stop()
        for name in self.functions:
            unregister_local_function(name)
        default_user_config["stepfunctions"]["execute_state_machine"] = self.executed_before


def start_launchers(
    emulator: Emulator,
    store: Store,
    settings: Settings,
    *,
    api_url: str,
    root: Path,
    now: datetime,
    host_environ: Mapping[str, str],
) -> LocalLaunchers:
    """Make the push-launch machinery in `emulator` and start the ECS container emulator.

    Args:
        emulator: The started emulator.
        store: The stack's store.
        settings: The stack's settings (with the emulator's endpoint).
        api_url: Where the API answers (launched runs get it as STRATOFLOW_API_URL).
        root: Where runner and container processes get their folders.
        now: The current time (the launch key's creation time).
        host_environ: The user's environment (processes take only PATH and `HOST_VARIABLES`).

    Returns:
        The settings with the launch fields set, and what `stop()` undoes.
    """
    executed_before = _execute_state_machines(emulator)
    clients = emulator.clients
    role = _ensure_role(clients.client("iam"))
    key, secret = _launch_key(clients.client("secretsmanager"), store, now)
    settings = _launch_settings(settings, clients, api_url, secret, role)
    containers = _containers(emulator, root, settings, host_environ)
    launchers = LocalLaunchers(settings, containers, executed_before=executed_before)
    env = _run_environment(host_environ, api_url, key)
    runner_arn = _function(
        launchers, clients, RUNNER_FUNCTION, role, RunnerProcess(store, env, root)
    )
    arns = {
        infra: _machine(launchers, clients, store, infra, role, runner_arn) for infra in MACHINES
    }
    launchers.settings = dataclasses.replace(
        settings,
        ecs_launcher_arn=arns[InfrastructureType.ECS],
        lambda_launcher_arn=arns[InfrastructureType.LAMBDA],
    )  # the ROUTED ones
    launchers.containers.start()
    logger.info("push launches ready: %s", ", ".join(sorted(kind.value for kind in ROUTED)))
    return launchers


def _execute_state_machines(emulator: Emulator) -> bool:
    """Have moto's interpreter run executions, its calls going to `emulator`; the setting before."""
    from moto.core.config import default_user_config

    sfn_config = default_user_config["stepfunctions"]
    before = bool(sfn_config.get("execute_state_machine", False))
    sfn_config["execute_state_machine"] = True
    point_sfn_clients_at(emulator.url, emulator.credentials)
    return before


def _launch_settings(
    settings: Settings, clients: Any, api_url: str, secret: str, role: str
) -> Settings:
    ecs = clients.client("ecs")
    cluster = ecs.create_cluster(clusterName=CLUSTER_NAME)["cluster"]["clusterArn"]
    ec2 = clients.client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    return dataclasses.replace(
        settings,
        launch_api_url=api_url,
        launch_api_key_secret=secret,
        ecs_cluster_arn=cluster,
        ecs_subnets=(subnet,),
        ecs_security_groups=(group,),
        ecs_execution_role_arn=role,
        ecs_log_group=LOG_GROUP,  # named in the task definition; output goes to output.log
    )


def _containers(
    emulator: Emulator, root: Path, settings: Settings, host_environ: Mapping[str, str]
) -> EcsContainerEmulator:
    from moto.core.models import DEFAULT_ACCOUNT_ID

    return EcsContainerEmulator(
        root / "containers",
        SecretsManagerSecrets(emulator.clients.client("secretsmanager")),
        account_id=DEFAULT_ACCOUNT_ID,
        region=settings.region,
        host_environ=host_environ,
    )


def _ensure_role(iam: Any) -> str:
    try:
        return str(iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        document = json.dumps(TRUST)
        return str(
            iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=document)["Role"]["Arn"]
        )


def _launch_key(secrets: Any, store: Store, now: datetime) -> tuple[str, str]:
    """A new regular key for launched runs (earlier ones revoked) and the secret holding it."""
    _revoke_launch_keys(store)
    key = create_api_key(store, ApiKeyCreate(name=LAUNCH_KEY_NAME, scope=ApiKeyScope.REGULAR), now)
    try:
        arn = secrets.create_secret(Name=SECRET_NAME, SecretString=key.key)["ARN"]
    except secrets.exceptions.ResourceExistsException:
        arn = secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=key.key)["ARN"]
    return key.key, str(arn)


def _revoke_launch_keys(store: Store) -> None:
    token: str | None = None
    while True:
        page = store.api_keys.list(100, token)
        for record in page.items:
            if record.name == LAUNCH_KEY_NAME and not record.revoked:
                store.api_keys.revoke(record.id)
        token = page.next_token
        if not token:
            return


def _function(launchers: LocalLaunchers, clients: Any, name: str, role: str, handler: Any) -> str:
    """Create (or find) the function `name` in the emulator; its invokes run `handler` here."""
    from stratoflow_functions.local.moto_lambda import register_local_function

    lam = clients.client("lambda")
    timeout = RUNNER_TIMEOUT_SECONDS if name == RUNNER_FUNCTION else LAUNCHER_TIMEOUT_SECONDS
    try:
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    except lam.exceptions.ResourceNotFoundException:
        arn = lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
            Code={"ZipFile": _placeholder_zip()}, Timeout=timeout,
        )["FunctionArn"]  # fmt: skip
    register_local_function(name, handler)
    launchers.functions.append(name)
    return str(arn)


def _placeholder_zip() -> bytes:
    """The code moto stores for a function (never run: invokes go to the registered handler)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "index.py", "def handler(event, context):\n    raise NotImplementedError\n"
        )
    return buffer.getvalue()


def _machine(
    launchers: LocalLaunchers,
    clients: Any,
    store: Store,
    infra: InfrastructureType,
    role: str,
    runner_arn: str,
) -> str:
    """The launcher function and state machine of `infra`; the machine's ARN."""
    handler = _launcher_handler(store, launchers.settings, infra, clients.client("ecs"))
    function = _function(launchers, clients, f"stratoflow-launcher-{infra.value}", role, handler)
    definition = definition_text(infra, launcher_arn=function, runner_arn=runner_arn)
    sfn = clients.client("stepfunctions")
    name = f"stratoflow-{infra.value}-launcher"
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == name:
            sfn.update_state_machine(
                stateMachineArn=machine["stateMachineArn"], definition=definition
            )
            return str(machine["stateMachineArn"])
    created = sfn.create_state_machine(
        name=name, definition=definition, roleArn=role, type="STANDARD"
    )
    return str(created["stateMachineArn"])


def definition_text(infra: InfrastructureType, *, launcher_arn: str, runner_arn: str) -> str:
    """The committed ASL of `infra`'s launcher with its function ARNs substituted."""
    from stratoflow_functions.launchers import asl

    path = Path(asl.__file__).with_name("definitions") / f"{infra.value}.asl.json"
    text = path.read_text()
    return text.replace("${LauncherFunctionArn}", launcher_arn).replace(
        "${RunnerFunctionArn}", runner_arn
    )


def _launcher_handler(store: Store, settings: Settings, infra: InfrastructureType, ecs: Any) -> Any:
    """`handlers/launcher.py` as the launcher function of `infra`, in this process."""
    from stratoflow_functions.handlers.launcher import handle
    from stratoflow_functions.launchers.context import LauncherContext

    mine = dataclasses.replace(settings, launcher_infrastructure=infra.value)
    is_ecs = infra is InfrastructureType.ECS
    ctx = LauncherContext(
        store=store, settings=mine, infrastructure=infra, ecs=ecs if is_ecs else None
    )
    return lambda event, context: handle(event, ctx)


def _run_environment(host_environ: Mapping[str, str], api_url: str, key: str) -> dict[str, str]:
    """What a runner process gets: the basics of the user's environment, the API and its key."""
    env = {name: value for name, value in host_environ.items() if name in HOST_VARIABLES}
    env["PATH"] = str(Path(sys.executable).parent) + ":" + host_environ.get("PATH", "")
    env.update(STRATOFLOW_API_URL=api_url, STRATOFLOW_API_KEY=key)
    return env


class RunnerProcess:
    """The runner function on the local stack: `stratoflow execute <id>` as a child process,
    answering what `handlers/runner.py` answers (the run's final state type)."""

    def __init__(self, store: Store, env: Mapping[str, str], root: Path) -> None:
        self.store = store
        self.env = dict(env)
        self.root = root / "runner"

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, str]:
        """Run the event's flow run to its end.

        Raises:
            RunnerError: the event names no run, or `stratoflow execute` could not run it.
        """
        run_id = flow_run_id(event)
        folder = self.root / str(run_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {
            **self.env,
            "STRATOFLOW_FLOW_RUN_ID": str(run_id),
            # as the real runner names its runs (`lambda:<function>:<request>`): a launched
            # `stratoflow execute` with no id of its own reports none
            "STRATOFLOW_INFRASTRUCTURE_ID": f"lambda:local-runner:{run_id}",
            "STRATOFLOW_HOME": str(folder / "home"),
        }
        done = subprocess.run(  # noqa: S603 - our own console script
            [str(Path(sys.executable).with_name("stratoflow")), "execute", str(run_id)],
            env=env, cwd=folder, capture_output=True, text=True, check=False,
        )  # fmt: skip
        (folder / "output.log").write_text(done.stdout + done.stderr)
        if done.returncode not in (0, 1):
            last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise RunnerError(last)
        return {"flow_run_id": str(run_id), "state": self._state(run_id)}

    def _state(self, run_id: UUID) -> str:
        return str(self.store.flow_runs.get(run_id).run.state.type.value)
