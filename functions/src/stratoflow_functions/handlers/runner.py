"""Lambda entry point of the runner for `--infra lambda` (DESIGN10 section 4): one invocation
runs one flow run in process, on the path `stratoflow execute` takes (`execute_run`: read the
run and its deployment, fetch the code bundle into a scratch folder under /tmp, run the engine).

The event is `{"flow_run_id": "<uuid>"}`; the answer `{"flow_run_id", "state"}` with the final
state type. A run that cannot be started (no deployment, a broken bundle) is proposed FAILED by
`execute_run` and the invocation fails with that message, as does an unreachable API; the
launcher state machine catches the error and settles the run. A Lambda timeout kills the
invocation: the machine catches `States.Timeout` and settles the run CRASHED with the reason.

The runner reaches the API at `STRATOFLOW_API_URL` with the function's IAM credentials (SigV4,
the SDK's `[aws]` extra), or, when `STRATOFLOW_API_KEY_SECRET` names a Secrets Manager secret,
with the API key that secret holds (read once per execution environment, never logged).
A warm execution environment runs many flow runs: the modules a run imported from its own code
are dropped when it ends, so the next run's bundle is imported afresh, never a stale copy
(modules imported from elsewhere, the SDK's and the layer's, stay: a bundle module of the same
name as one of those is shadowed by it, as it is under `stratoflow execute`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

from click import ClickException

from stratoflow.cli.execute import execute_run
from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings, load_client_settings
from stratoflow_functions.errors import StratoflowError

API_KEY_SECRET_ENV = "STRATOFLOW_API_KEY_SECRET"  # noqa: S105 - a variable name, not a key
ENDPOINT_ENV = "STRATOFLOW_AWS_ENDPOINT_URL"


class RunnerError(StratoflowError):
    """The runner could not run the flow run (bad event, unusable run, API failure)."""

    code = "runner_failed"


@dataclass(frozen=True)
class RunnerConfig:
    """What the runner reads from its environment, once per execution environment."""

    client: ClientSettings
    api_key_secret: str | None = field(default=None, repr=False)
    """ARN of the Secrets Manager secret holding the API key (None: SigV4)."""
    aws_endpoint_url: str | None = None
    """The AWS endpoint (set only against an emulator)."""


def load_runner_config(environ: Mapping[str, str] | None = None) -> RunnerConfig:
    """Read the runner's configuration from `environ` (the process environment by default).

    The Stratoflow home defaults to a folder under the temporary directory: /tmp is the only
    writable disk of a Lambda execution environment.
    """
    env = dict(os.environ if environ is None else environ)
    env.setdefault("STRATOFLOW_HOME", str(Path(tempfile.gettempdir()) / "stratoflow"))
    env.pop("STRATOFLOW_API_KEY", None)  # a key travels only by reference (the secret)
    secret = env.get(API_KEY_SECRET_ENV) or None
    client = load_client_settings(env, auth="api-key" if secret else "sigv4")
    return RunnerConfig(client, secret, env.get(ENDPOINT_ENV) or None)


class Runner:
    """Runs flow runs in this process, with clients built from `config`.

    Args:
        config: The runner's configuration.
        secrets: A Secrets Manager client (built from the config on first use when None).
    """

    def __init__(self, config: RunnerConfig, secrets: Any | None = None) -> None:
        self.config = config
        self._secrets = secrets
        self._api_key: str | None = None

    def run(self, event: Mapping[str, Any], infrastructure_id: str) -> dict[str, str]:
        """Execute the flow run `event` names; its id and final state type.

        Raises:
            RunnerError: the event names no run, or the run could not be executed.
        """
        run_id = flow_run_id(event)
        client = StratoflowClient(self.client_settings())
        try:
            with imports_of_the_run():
                outcome = execute_run(client, run_id, infrastructure_id=infrastructure_id)
        except ClickException as exc:  # execute_run's error, already a one-line message
            raise RunnerError(exc.message) from None
        return {"flow_run_id": str(run_id), "state": outcome.state.type.value}

    def client_settings(self) -> ClientSettings:
        """The API client's settings, with the API key from the secret when there is one."""
        if self.config.api_key_secret is None:
            return self.config.client
        return dataclasses.replace(self.config.client, api_key=self._key())

    def _key(self) -> str:
        if self._api_key is None:
            secret = self.config.api_key_secret
            answer = self._secrets_client().get_secret_value(SecretId=secret)
            key = str(answer.get("SecretString") or "").strip()
            if not key:
                raise RunnerError(f"the API key secret {secret} holds no key")
            self._api_key = key
        return self._api_key

    def _secrets_client(self) -> Any:
        if self._secrets is None:
            import boto3

            self._secrets = boto3.client(
                "secretsmanager",
                region_name=self.config.client.region,
                endpoint_url=self.config.aws_endpoint_url,
            )
        return self._secrets


def flow_run_id(event: Mapping[str, Any]) -> UUID:
    """The flow run id of a runner event.

    Raises:
        RunnerError: the event has no `flow_run_id`, or it is not a UUID.
    """
    raw = event.get("flow_run_id") if isinstance(event, Mapping) else None
    try:
        return UUID(str(raw)) if raw else _missing()
    except ValueError:
        raise RunnerError(f"flow_run_id {raw!r} is not a UUID", code="invalid_event") from None


def _missing() -> UUID:
    raise RunnerError('the event has no "flow_run_id"', code="invalid_event")


@contextmanager
def imports_of_the_run() -> Iterator[None]:
    """Undo what importing a run's code did to this process's import state when it ends.

    The loader puts the code folder on `sys.path` and imports the entrypoint and its
    sibling modules from it; in a warm execution environment the next run, whatever its
    bundle, would otherwise find them cached. Modules of the SDK and of site-packages that
    the run imported stay: they are the same for every run.
    """
    path_before = list(sys.path)
    try:
        yield
    finally:
        added = [Path(entry) for entry in sys.path if entry and entry not in path_before]
        sys.path[:] = path_before
        for name, module in list(sys.modules.items()):
            if _imported_from(module, added) or name.startswith("stratoflow_entrypoint_"):
                del sys.modules[name]


def _imported_from(module: Any, folders: list[Path]) -> bool:
    origin = getattr(module, "__file__", None)
    if not origin or not folders:
        return False
    return any(Path(origin).is_relative_to(folder) for folder in folders)


@cache
def runner() -> Runner:
    """The runner of this execution environment, configured on its first invocation."""
    return Runner(load_runner_config())


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Lambda entry point: `stratoflow_functions.handlers.runner.handler`."""
    request = getattr(context, "aws_request_id", None) or "local"
    function = getattr(context, "function_name", None) or "runner"
    return runner().run(event, infrastructure_id=f"lambda:{function}:{request}")
