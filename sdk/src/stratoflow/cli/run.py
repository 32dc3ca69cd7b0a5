"""`stratoflow run DEPLOYMENT [--param KEY=VALUE ...] [--watch]`: start a run of a deployment.

With `--watch`, print its state changes and log lines until it ends (polling with backoff) and
exit 0 only if it COMPLETED, 1 otherwise, so scripts can chain on the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID, uuid4

import click

from stratoflow.cli._common import EXIT_FAILED, EXIT_OK, client_from, handle_errors, when
from stratoflow.cli._inputs import find_deployment, parse_params
from stratoflow.cli.runs import _print_new_logs
from stratoflow.client import StratoflowClient
from stratoflow.schemas import DeploymentRunCreate, FlowRun, StateType

WATCH_MIN_SECONDS = 0.5
WATCH_MAX_SECONDS = 5.0


@click.command("run")
@click.argument("deployment")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter.")
@click.option("--watch", is_flag=True, help="Follow the run until it ends; exit 0 if COMPLETED.")
@click.pass_context
def run(ctx: click.Context, deployment: str, params: tuple[str, ...], watch: bool) -> None:
    """Start a run of DEPLOYMENT (FLOW/NAME or an id) now."""
    parameters = parse_params(params)
    # A key of our own makes the create safe to retry: a lost answer never starts two runs.
    body = DeploymentRunCreate(parameters=parameters, idempotency_key=f"cli-run:{uuid4()}")
    with client_from(ctx) as client, handle_errors(f"running {deployment}"):
        found = find_deployment(client, deployment)
        flow_run = client.create_deployment_run(found.id, body)
        click.echo(
            f"Created flow run {flow_run.name} ({flow_run.id}) of "
            f"{found.flow_name}/{found.name}: {flow_run.state.name}"
        )
        if not watch:
            click.echo(f"Follow it with `stratoflow runs logs {flow_run.id} --follow`.")
            return
        final = watch_run(client, flow_run.id)
    click.echo(f"flow run {final.id} ended {final.state.name}")
    ctx.exit(EXIT_OK if final.state.type == StateType.COMPLETED else EXIT_FAILED)


def watch_run(
    client: StratoflowClient,
    flow_run_id: UUID,
    sleep: Callable[[float], None] = time.sleep,
) -> FlowRun:
    """Print a run's state changes and new log lines until it is terminal; return it then.

    Polls quickly while things change and backs off (up to `WATCH_MAX_SECONDS`) while they don't.
    """
    delay, last_state, seen = WATCH_MIN_SECONDS, "", 0
    while True:
        current = client.read_flow_run(flow_run_id)
        lines = _print_new_logs(client, flow_run_id, seen)
        state = f"{current.state.type.value}/{current.state.name}"
        changed = state != last_state or lines != seen
        if state != last_state:
            note = f": {current.state.message}" if current.state.message else ""
            click.echo(f"{when(current.state.timestamp)} state {current.state.name}{note}")
        last_state, seen = state, lines
        if current.state.is_terminal:
            _print_new_logs(client, flow_run_id, seen)  # lines shipped with the end state
            return current
        delay = WATCH_MIN_SECONDS if changed else min(delay * 2, WATCH_MAX_SECONDS)
        sleep(delay)
