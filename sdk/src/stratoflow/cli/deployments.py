"""`stratoflow deployments ls | pause NAME | resume NAME | delete NAME` (NAME = FLOW/NAME or an
id): list deployments and steer their schedules."""

from __future__ import annotations

import click

from stratoflow.cli._common import client_from, handle_errors, table
from stratoflow.cli._inputs import find_deployment
from stratoflow.cli.deploy import describe_schedule
from stratoflow.client import StratoflowClient
from stratoflow.schemas import MAX_PAGE_SIZE, Deployment


@click.group()
def deployments() -> None:
    """List, pause, resume and delete deployments."""


@deployments.command("ls")
@click.pass_context
def ls(ctx: click.Context) -> None:
    """List every deployment."""
    with client_from(ctx) as client, handle_errors("listing deployments"):
        found = all_deployments(client)
    rows = [_row(d) for d in sorted(found, key=lambda d: (d.flow_name, d.name))]
    click.echo(table(["ID", "NAME", "SCHEDULE", "WORK QUEUE", "INFRA", "PAUSED"], rows))


def all_deployments(client: StratoflowClient) -> list[Deployment]:
    """Every deployment, through all the pages."""
    found: list[Deployment] = []
    token: str | None = None
    while True:
        page = client.list_deployments(limit=MAX_PAGE_SIZE, next_token=token)
        found.extend(page.items)
        token = page.next_token
        if token is None:
            return found


def _row(deployment: Deployment) -> list[str]:
    schedules = "; ".join(describe_schedule(s.schedule) for s in deployment.schedules) or "-"
    return [
        str(deployment.id), f"{deployment.flow_name}/{deployment.name}", schedules,
        deployment.work_queue, deployment.infrastructure.value,
        "yes" if deployment.paused else "no",
    ]  # fmt: skip


@deployments.command()
@click.argument("name")
@click.pass_context
def pause(ctx: click.Context, name: str) -> None:
    """Pause a deployment: its schedules stop and their future runs are removed."""
    with client_from(ctx) as client, handle_errors(f"pausing deployment {name}"):
        found = client.pause_deployment(find_deployment(client, name).id)
    click.echo(f"Paused {found.flow_name}/{found.name} ({found.id})")


@deployments.command()
@click.argument("name")
@click.pass_context
def resume(ctx: click.Context, name: str) -> None:
    """Resume a paused deployment's schedules."""
    with client_from(ctx) as client, handle_errors(f"resuming deployment {name}"):
        found = client.resume_deployment(find_deployment(client, name).id)
    click.echo(f"Resumed {found.flow_name}/{found.name} ({found.id})")


@deployments.command()
@click.argument("name")
@click.pass_context
def delete(ctx: click.Context, name: str) -> None:
    """Delete a deployment (its past runs stay)."""
    with client_from(ctx) as client, handle_errors(f"deleting deployment {name}"):
        found = find_deployment(client, name)
        client.delete_deployment(found.id)
    click.echo(f"Deleted {found.flow_name}/{found.name} ({found.id})")
