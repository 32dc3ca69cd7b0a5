"""The `stratoflow` command line: a click group whose sub-commands load on first use.

Adding a command group: write `stratoflow/cli/<name>.py` defining a click command or group, and
add one line to `COMMANDS` below (`"name": "module:attribute"`). Other distributions can add
commands without touching this file through the `stratoflow.cli` entry-point group.

Exit codes scripts can trust: 0 success (a run COMPLETED), 1 a failed run or failed operation,
2 usage or bad input (with a message naming the problem; never a traceback).
"""

from __future__ import annotations

import importlib
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
        from importlib.metadata import entry_points  # lazily: a built-in command needs none

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
        # a built-in needs no scan of every installed distribution's entry points (what
        # `stratoflow execute`, the start of every launched run, would otherwise pay first)
        target = COMMANDS.get(cmd_name) or self._targets().get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not exc.name or exc.name.split(".")[0] == module_name.split(".")[0]:
                raise  # the command's own package is broken: a bug, not a missing extra
            return unavailable_command(cmd_name, self._distribution(cmd_name), exc.name)
        loaded: Any = getattr(module, attribute)
        return loaded if isinstance(loaded, click.Command) else None

    @staticmethod
    def _distribution(cmd_name: str) -> str | None:
        from importlib.metadata import entry_points

        for entry in entry_points(group=ENTRY_POINT_GROUP, name=cmd_name):
            return entry.dist.name if entry.dist else None
        return None


def unavailable_command(name: str, distribution: str | None, module: str) -> click.Command:
    """A stand-in for a plug-in command whose dependencies are not installed: `--help` still
    lists it, and running it names the missing package and the extra that installs it."""
    from stratoflow.cli.extras import extra_providing, install_hint

    hint = (
        install_hint(distribution, extra_providing(distribution, module))
        if distribution
        else "install the package that provides it"
    )
    message = f"`stratoflow {name}` needs the Python package '{module}', not installed: {hint}"

    def fail() -> None:
        raise click.ClickException(message)

    return click.Command(
        name,
        callback=fail,
        help=message,
        short_help=f"(unavailable: {hint})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )


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
