"""`stratoflow api-keys create NAME [--scope admin|regular] | ls | revoke ID`: manage the API
keys of callers outside AWS (admins only). A new key is shown once, and never again."""

from __future__ import annotations

from uuid import UUID

import click
from pydantic import ValidationError

from stratoflow.cli._common import BadInputError, client_from, handle_errors, table, when
from stratoflow.cli._inputs import validation_message
from stratoflow.client import StratoflowClient
from stratoflow.schemas import MAX_PAGE_SIZE, ApiKey, ApiKeyCreate, ApiKeyScope


@click.group("api-keys")
def api_keys() -> None:
    """Create, list and revoke API keys (admins only)."""


@api_keys.command()
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice([s.value for s in ApiKeyScope]),
    default=ApiKeyScope.REGULAR.value,
    show_default=True,
    help="admin keys may also manage API keys.",
)
@click.pass_context
def create(ctx: click.Context, name: str, scope: str) -> None:
    """Create an API key called NAME and print it (the only time it is shown)."""
    try:
        body = ApiKeyCreate(name=name, scope=ApiKeyScope(scope))
    except ValidationError as exc:
        raise BadInputError(f"invalid API key: {validation_message(exc)}") from exc
    with client_from(ctx) as client, handle_errors(f"creating API key {name!r}"):
        created = client.create_api_key(body)
    click.echo(f"Created {created.scope.value} API key {created.name!r} ({created.id}):")
    click.echo(created.key)
    click.echo(
        "Store it now (e.g. in a secret manager): it is stored only as a hash and cannot be "
        "shown again.",
        err=True,
    )


@api_keys.command("ls")
@click.pass_context
def ls(ctx: click.Context) -> None:
    """List API keys: id, name, scope and the key's first characters."""
    with client_from(ctx) as client, handle_errors("listing API keys"):
        keys = all_api_keys(client)
    rows = [
        [str(k.id), k.name, k.scope.value, k.prefix + "…", when(k.created),
         "yes" if k.revoked else "no"]
        for k in keys
    ]  # fmt: skip
    click.echo(table(["ID", "NAME", "SCOPE", "PREFIX", "CREATED", "REVOKED"], rows))


def all_api_keys(client: StratoflowClient) -> list[ApiKey]:
    """Every API key, through all the pages."""
    found: list[ApiKey] = []
    token: str | None = None
    while True:
        page = client.list_api_keys(limit=MAX_PAGE_SIZE, next_token=token)
        found.extend(page.items)
        token = page.next_token
        if token is None:
            return found


@api_keys.command()
@click.argument("key_id", metavar="ID")
@click.pass_context
def revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke the API key with this id: it stops working at once."""
    try:
        parsed = UUID(key_id)
    except ValueError:
        raise BadInputError(f"invalid API key id {key_id!r}: expected a UUID") from None
    with client_from(ctx) as client, handle_errors(f"revoking API key {key_id}"):
        client.revoke_api_key(parsed)
    click.echo(f"Revoked API key {key_id}")
