"""`stratoflow execute FLOW_RUN_ID`: what a launched container or process runs.

Fetches the run and its deployment, gets the code (an `s3://` bundle is downloaded and unpacked
into a scratch folder, which becomes the working directory), imports the entrypoint, runs the
flow engine against that existing run and exits 0 if it COMPLETED, 1 otherwise, 2 if the run,
deployment, code or entrypoint is unusable.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import chdir
from pathlib import Path

import click

from stratoflow.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    BadInputError,
    client_from,
    handle_errors,
)
from stratoflow.cli.runs import parse_id
from stratoflow.runtime.config import RuntimeConfig
from stratoflow.runtime.engine import execute_flow_run
from stratoflow.runtime.loader import CodeLoadError, load_flow, materialize_code
from stratoflow.runtime.results import result_store_for


@click.command()
@click.argument("flow_run_id")
@click.pass_context
def execute(ctx: click.Context, flow_run_id: str) -> None:
    """Run an existing flow run of a deployment in this process."""
    run_id = parse_id(flow_run_id)
    client = client_from(ctx)
    with client, handle_errors(f"flow run {flow_run_id}"):
        run = client.read_flow_run(run_id)
        if run.deployment_id is None:
            raise BadInputError(f"flow run {flow_run_id} has no deployment to execute")
        deployment = client.read_deployment(run.deployment_id)
        with tempfile.TemporaryDirectory(prefix="stratoflow-code-") as scratch:
            try:
                root = materialize_code(deployment.code, Path.cwd(), Path(scratch), client)
                flow = load_flow(deployment.entrypoint, root)
            except CodeLoadError as exc:
                raise BadInputError(str(exc)) from exc
            runtime = RuntimeConfig(
                orchestrator=client,
                results=result_store_for(client.settings.resolved_results_uri),
                infrastructure_id=f"pid:{os.getpid()}",
            )
            with chdir(root):  # the flow sees its project's files where it expects them
                outcome = execute_flow_run(flow, run, runtime)
    click.echo(f"flow run {flow_run_id} ended {outcome.state.name}")
    ctx.exit(EXIT_OK if outcome.ok else EXIT_FAILED)
