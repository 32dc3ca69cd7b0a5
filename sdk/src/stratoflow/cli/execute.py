"""`stratoflow execute FLOW_RUN_ID`: what a launched container or process runs.

Fetches the run and its deployment, gets the code (an `s3://` bundle is downloaded and unpacked
into a scratch folder, which becomes the working directory), imports the entrypoint, runs the
flow engine against that existing run and exits 0 if it COMPLETED, 1 otherwise, 2 if the run,
deployment, code or entrypoint is unusable. In that last case the run is first proposed FAILED
with the reason, so it is on the run and not only in this process's output.

Launched runs learn what launched them from `stratoflow.runtime.launched`: the infrastructure id
reported on heartbeats (the launcher's, the ECS task ARN, else the pid by hand and none when an
agent or launcher started the process: it recorded the id) and, on platforms that
pass the API key as a Secret Manager reference (Vertex), the key itself. A Lambda deployment's
settings apply in this process, since no container carries them: its `env` for the run's
duration, and its `timeout_seconds` as the flow's timeout (the shorter of it and the flow's).

A run an agent claimed ahead of its time (PENDING before its expected start: the agent's
prefetch window) is made ready first (its run, deployment and code read, the entrypoint
imported) and then waits here until its expected start before the engine proposes RUNNING, so
the flow body begins on time rather than a poll and a process start late. The wait is bounded
(`MAX_START_WAIT_SECONDS`); SIGTERM ends it like any other moment of the run.

The scratch folder goes on every exit this process lives through: a normal one, an error, and
SIGTERM (turned into `TerminationSignal` here, so the folder is removed before the signal is
delivered again and the process ends the way its sender meant).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import chdir, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import click

from stratoflow.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    BadInputError,
    client_from,
    handle_errors,
)
from stratoflow.cli.runs import parse_id
from stratoflow.client import NotFoundError, StratoflowClient, StratoflowClientError
from stratoflow.exceptions import TerminationSignal
from stratoflow.flows import Flow
from stratoflow.runtime.config import RuntimeConfig
from stratoflow.runtime.engine import execute_flow_run
from stratoflow.runtime.launched import (
    ApiKeySecretError,
    LaunchSettings,
    fetch_api_key,
    infrastructure_id,
    load_launch_settings,
)
from stratoflow.runtime.loader import CodeLoadError, load_flow, materialize_code
from stratoflow.runtime.outcome import Outcome
from stratoflow.runtime.results import result_store_for
from stratoflow.runtime.signals import TerminationGuard
from stratoflow.schemas import (
    Deployment,
    FlowRun,
    InfrastructureType,
    State,
    StateProposal,
    StateType,
    utcnow,
)

if TYPE_CHECKING:
    from stratoflow.infrastructure.settings import LambdaSettings

MAX_START_WAIT_SECONDS = 65.0
"""The longest a run claimed ahead waits for its expected start (claims reach 60 s ahead)."""


@click.command()
@click.argument("flow_run_id")
@click.pass_context
def execute(ctx: click.Context, flow_run_id: str) -> None:
    """Run an existing flow run of a deployment in this process."""
    run_id = parse_id(flow_run_id)
    launch = load_launch_settings()
    client = client_from(ctx, fallback_api_key=_api_key_from_secret(launch))
    with TerminationGuard() as guard:
        try:
            outcome = execute_run(client, run_id, infrastructure_id=infrastructure_id(launch))
        except TerminationSignal as exc:
            guard.resend(exc.signum)  # the scratch folder is gone by now
            raise
    click.echo(f"flow run {flow_run_id} ended {outcome.state.name}")
    ctx.exit(EXIT_OK if outcome.ok else EXIT_FAILED)


def _api_key_from_secret(launch: LaunchSettings) -> str | None:
    """The key named by `STRATOFLOW_API_KEY_SECRET` when no key is set, else None.

    Raises:
        BadInputError: the secret cannot be read (the message says why; exit 2).
    """
    if not launch.needs_api_key_from_secret or launch.api_key_secret is None:
        return None
    try:
        return fetch_api_key(launch.api_key_secret, base_url=launch.secret_manager_url)
    except ApiKeySecretError as exc:
        raise BadInputError(str(exc)) from exc


def execute_run(
    client: StratoflowClient, run_id: UUID, *, infrastructure_id: str | None
) -> Outcome:
    """Run the existing flow run `run_id` of a deployment in this process; how it ended.

    What `stratoflow execute` does, shared with the Lambda runner of `--infra lambda`. The
    client is closed on return.

    Args:
        client: The API client (closed at the end).
        run_id: The flow run to execute.
        infrastructure_id: What the run's heartbeats say it runs on (a pid, a Lambda request);
            None to send none and keep what the launcher recorded.

    Raises:
        BadInputError: the run, its deployment, code or entrypoint is unusable (the run was
            proposed FAILED with the reason when it exists).
        CliError: the API failed or answered an error.
    """
    with client, handle_errors(f"flow run {run_id}"):
        run = client.read_flow_run(run_id)
        with tempfile.TemporaryDirectory(prefix="stratoflow-code-") as scratch:
            with _failed_on_bad_input(client, run):
                flow, root, deployment = _load(client, run, Path(scratch))
            runtime = RuntimeConfig(
                orchestrator=client,
                results=result_store_for(client.settings.resolved_results_uri),
                infrastructure_id=infrastructure_id,
                heartbeat_pid=False,  # a pid, when wanted, is already `infrastructure_id`
            )
            in_lambda = _lambda_settings(deployment)
            if in_lambda is not None:
                flow = _bounded(flow, in_lambda.timeout_seconds)
            wait_for_expected_start(run)
            # the flow sees its project's files where it expects them
            with chdir(root), _environment(in_lambda.env if in_lambda else {}):
                return execute_flow_run(flow, run, runtime)


def wait_for_expected_start(
    run: FlowRun,
    *,
    now: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Wait until a PENDING run's expected start if it is still ahead (a run an agent claimed
    early), at most `MAX_START_WAIT_SECONDS`; the seconds waited (0: it was due already)."""
    if run.state.type is not StateType.PENDING or run.expected_start_time is None:
        return 0.0
    seconds = min((run.expected_start_time - now()).total_seconds(), MAX_START_WAIT_SECONDS)
    if seconds <= 0:
        return 0.0
    sleep(seconds)
    return seconds


def _lambda_settings(deployment: Deployment) -> LambdaSettings | None:
    """A Lambda deployment's settings: they apply in this process (the runner's), since no
    container carries them (ECS, Kubernetes and Vertex put them on the container)."""
    if deployment.infrastructure is not InfrastructureType.LAMBDA:
        return None
    from stratoflow.infrastructure.settings import LambdaSettings, settings_for  # Lambda only

    found = settings_for(InfrastructureType.LAMBDA, deployment.infra_overrides)
    return found if isinstance(found, LambdaSettings) else None


def _bounded(flow: Flow[..., Any], seconds: float) -> Flow[..., Any]:
    """`flow` timing out after `seconds` at the latest (its own timeout, if shorter, stays)."""
    own = flow.timeout_seconds
    return flow.with_options(timeout_seconds=seconds if own is None else min(own, seconds))


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in the process environment for the block, then as they were (a warm runner
    runs the next deployment's flow with the next deployment's environment)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _load(
    client: StratoflowClient, run: FlowRun, scratch: Path
) -> tuple[Flow[..., Any], Path, Deployment]:
    """The run's flow, the folder its code is in, and its deployment.

    Raises:
        BadInputError: the run has no deployment, the deployment is gone, or its code or
            entrypoint cannot be used.
    """
    if run.deployment_id is None:
        raise BadInputError(f"flow run {run.id} has no deployment to execute")
    try:
        deployment = client.read_deployment(run.deployment_id)
    except NotFoundError as exc:
        raise BadInputError(f"deployment {run.deployment_id} not found") from exc
    try:
        root = materialize_code(deployment.code, Path.cwd(), scratch, client)
        return load_flow(deployment.entrypoint, root), root, deployment
    except CodeLoadError as exc:
        raise BadInputError(str(exc)) from exc


@contextmanager
def _failed_on_bad_input(client: StratoflowClient, run: FlowRun) -> Iterator[None]:
    """Propose FAILED with the reason when the block finds the run cannot be started."""
    try:
        yield
    except BadInputError as exc:
        _propose_failed(client, run, f"Could not start the flow run: {exc.message}")
        raise


def _propose_failed(client: StratoflowClient, run: FlowRun, message: str) -> None:
    # At the version read: a run that moved since (cancelled, say) keeps what it has.
    proposal = StateProposal(
        state=State(type=StateType.FAILED, message=message),
        transition_id=uuid4(),
        expected_version=run.version,
    )
    try:
        client.set_flow_run_state(run.id, proposal)
    except StratoflowClientError as exc:  # the reason still goes to stderr, for the agent
        print(f"stratoflow: could not record the failure on the run: {exc}", file=sys.stderr)
