"""The `stratoflow` command line: a click group whose sub-commands load on first use.

Adding a command group: write `stratoflow/cli/<name>.py` defining a click command or group, and
add one line to `COMMANDS` below (`"name": "module:attribute"`). Other distributions can add
commands without touching this file through the `stratoflow.cli` entry-point group.

Exit codes scripts can trust: 0 success (a run COMPLETED), 1 a failed run or failed operation,
2 usage or bad input (with a message naming the problem; never a traceback).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

import click

from stratoflow._version import __version__

COMMANDS: dict[str, str] = {
    "runs": "stratoflow.cli.runs:runs",
    "execute": "stratoflow.cli.execute:execute",
    "deploy": "stratoflow.cli.deploy:deploy_command",
    "deployments": "stratoflow.cli.deployments:deployments",
    "run": "stratoflow.cli.run:run",
    "api-keys": "stratoflow.cli.api_keys:api_keys",
}
"""Built-in commands: name → `module:attribute` of a click command."""

ENTRY_POINT_GROUP = "stratoflow.cli"


class LazyGroup(click.Group):
    """A group that imports each sub-command only when it is used (fast `--help`)."""

    def _targets(self) -> dict[str, str]:
        targets = dict(COMMANDS)
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            targets.setdefault(entry.name, entry.value)
        return targets

    def list_commands(self, ctx: click.Context) -> list[str]:
        """All command names, built-in and from entry points."""
        return sorted({*super().list_commands(ctx), *self._targets()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return one command."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        target = self._targets().get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        loaded: Any = getattr(importlib.import_module(module_name), attribute)
        return loaded if isinstance(loaded, click.Command) else None


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="stratoflow")
@click.option("--api-url", envvar=None, help="The API URL (overrides STRATOFLOW_API_URL).")
@click.option("--api-key", envvar=None, help="An API key (overrides STRATOFLOW_API_KEY).")
@click.pass_context
def cli(ctx: click.Context, api_url: str | None, api_key: str | None) -> None:
    """Stratoflow: workflow orchestration for Python on serverless AWS."""
    ctx.ensure_object(dict)
    ctx.obj["overrides"] = {"api_url": api_url, "api_key": api_key}


def main() -> None:
    """The console-script entry point."""
    cli(obj={})
