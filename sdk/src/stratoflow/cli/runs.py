"""`stratoflow runs ls | show ID | logs ID [--follow] | cancel ID`: watch and steer flow runs."""

from __future__ import annotations

import time
from uuid import UUID

import click

from stratoflow.cli._common import (
    BadInputError,
    CliError,
    client_from,
    duration,
    handle_errors,
    table,
    when,
)
from stratoflow.client import StratoflowClient
from stratoflow.schemas import MAX_PAGE_SIZE, FlowRun, FlowRunFilter, Log, StateType

FOLLOW_POLL_SECONDS = 2.0


def parse_id(value: str) -> UUID:
    """A run id from the command line.

    Raises:
        CliError: not a UUID (exit 2).
    """
    try:
        return UUID(value)
    except ValueError:
        raise BadInputError(f"invalid run id {value!r}: expected a UUID") from None


@click.group()
def runs() -> None:
    """List, inspect, follow and cancel flow runs."""


@runs.command("ls")
@click.option("--state", type=click.Choice([s.value for s in StateType], case_sensitive=False))
@click.option("--flow", "flow", help="A flow name or id.")
@click.option("--limit", type=click.IntRange(1, MAX_PAGE_SIZE), default=20, show_default=True)
@click.pass_context
def ls(ctx: click.Context, state: str | None, flow: str | None, limit: int) -> None:
    """List flow runs, newest first."""
    with client_from(ctx) as client, handle_errors("listing flow runs"):
        flow_id = _flow_id(client, flow) if flow else None
        flt = FlowRunFilter(state=StateType(state.upper()) if state else None, flow_id=flow_id)
        page = client.list_flow_runs(flt, limit=limit)
    rows = [_run_row(run) for run in page.items]
    click.echo(table(["ID", "NAME", "FLOW", "STATE", "STARTED", "DURATION"], rows))


def _run_row(run: FlowRun) -> list[str]:
    return [
        str(run.id), run.name, run.flow_name or str(run.flow_id), run.state.name,
        when(run.start_time), duration(run),
    ]  # fmt: skip


def _flow_id(client: StratoflowClient, flow: str) -> UUID:
    try:
        return UUID(flow)
    except ValueError:
        pass
    token: str | None = None
    while True:
        page = client.list_flows(limit=MAX_PAGE_SIZE, next_token=token)
        for item in page.items:
            if item.name == flow:
                return item.id
        token = page.next_token
        if token is None:
            raise BadInputError(f"no flow named {flow!r}")


@runs.command()
@click.argument("run_id")
@click.pass_context
def show(ctx: click.Context, run_id: str) -> None:
    """Show one flow run and its task runs."""
    flow_run_id = parse_id(run_id)
    with client_from(ctx) as client, handle_errors(f"flow run {run_id}"):
        run = client.read_flow_run(flow_run_id)
        task_runs = client.list_task_runs(flow_run_id, limit=MAX_PAGE_SIZE).items
    fields = [
        ("id", str(run.id)), ("name", run.name), ("flow", run.flow_name or str(run.flow_id)),
        ("version", run.flow_version or "-"), ("state", run.state.name),
        ("message", run.state.message or "-"), ("started", when(run.start_time)),
        ("ended", when(run.end_time)), ("duration", duration(run)),
        ("run count", str(run.run_count)), ("runs on", _runs_on(run)),
        ("parameters", str(run.parameters)),
    ]  # fmt: skip
    click.echo("\n".join(f"{key:<11} {value}" for key, value in fields))
    rows = [[t.name, t.state.name, str(t.run_count), t.state.message or ""] for t in task_runs]
    click.echo("\n" + table(["TASK RUN", "STATE", "RUNS", "MESSAGE"], rows))


def _runs_on(run: FlowRun) -> str:
    # The infrastructure and what of it runs the run: a pid, a container, a Job, a task ARN.
    kind = run.infrastructure.value if run.infrastructure else None
    where = " ".join(part for part in (kind, run.infrastructure_id) if part)
    return where or "-"


@runs.command()
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run ends.")
@click.pass_context
def logs(ctx: click.Context, run_id: str, follow: bool) -> None:
    """Print a flow run's logs in time order."""
    flow_run_id = parse_id(run_id)
    with client_from(ctx) as client, handle_errors(f"logs of flow run {run_id}"):
        seen = _print_new_logs(client, flow_run_id, 0)
        while follow and not client.read_flow_run(flow_run_id).state.is_terminal:
            time.sleep(FOLLOW_POLL_SECONDS)
            seen = _print_new_logs(client, flow_run_id, seen)
        if follow:
            _print_new_logs(client, flow_run_id, seen)  # the lines shipped with the end state


def _print_new_logs(client: StratoflowClient, flow_run_id: UUID, skip: int) -> int:
    """Print the run's lines after the first `skip`; returns how many lines there are now."""
    count, token = 0, None
    while True:
        page = client.list_logs(flow_run_id, limit=MAX_PAGE_SIZE, next_token=token)
        for line in page.items:
            count += 1
            if count > skip:
                click.echo(_format_log(line))
        token = page.next_token
        if token is None:
            return count


def _format_log(line: Log) -> str:
    level = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}
    stamp = line.timestamp.strftime("%H:%M:%S.%f")[:-3]
    return f"{stamp} | {level.get(line.level, str(line.level)):<7} | {line.message}"


@runs.command()
@click.argument("run_id")
@click.pass_context
def cancel(ctx: click.Context, run_id: str) -> None:
    """Cancel a flow run (a running one stops starting tasks, then ends Cancelled)."""
    flow_run_id = parse_id(run_id)
    with client_from(ctx) as client, handle_errors(f"cancelling flow run {run_id}"):
        answer = client.cancel_flow_run(flow_run_id)
    state = answer.state.name if answer.state else "unchanged"
    click.echo(f"flow run {run_id}: {answer.status.value} → {state}")
    if answer.status.value != "ACCEPT":
        raise CliError(f"flow run {run_id} could not be cancelled: it is {state}")
