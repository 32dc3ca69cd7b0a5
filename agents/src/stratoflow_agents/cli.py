"""`stratoflow agent start`: run a pull agent on a work queue (plugged in through the
`stratoflow.cli` entry point, so the SDK does not depend on this package).

The local and docker agents exist; the other types exit 2 saying so. Ctrl-C or SIGTERM stop the
agent gracefully (a second one skips the shutdown grace). This is the boundary where the
process environment is read, once, and handed to the agent.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import click

from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings, load_client_settings
from stratoflow.schemas import InfrastructureType
from stratoflow_agents.base import BaseAgent
from stratoflow_agents.config import AgentConfig
from stratoflow_agents.errors import AgentError
from stratoflow_agents.local import LocalAgent
from stratoflow_agents.signals import stop_on_signals

EXIT_USAGE = 2
AVAILABLE = frozenset({InfrastructureType.LOCAL, InfrastructureType.DOCKER})
SECONDS = click.FloatRange(min=0.01)
GRACE = click.FloatRange(min=0)


class UsageError(click.ClickException):
    """Bad input or a missing setting: message printed, exit status 2."""

    exit_code = EXIT_USAGE


@click.group()
def agent() -> None:
    """Run pull agents that claim and launch flow runs."""


@agent.command()
@click.option(
    "--type", "agent_type", type=click.Choice([t.value for t in InfrastructureType]),
    default=InfrastructureType.LOCAL.value, show_default=True,
    help="The infrastructure the agent launches runs on.",
)  # fmt: skip
@click.option("--work-queue", "-q", required=True, help="The work queue to claim runs from.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=AgentConfig.limit,
              show_default=True, help="The most runs active at once.")  # fmt: skip
@click.option("--name", default=None, help="The agent's name (default: this host's name).")
@click.option("--poll-interval", type=SECONDS, default=AgentConfig.poll_interval,
              show_default=True, help="Seconds between claims while work is found.")  # fmt: skip
@click.option("--backoff-max", type=SECONDS, default=AgentConfig.backoff_max,
              show_default=True, help="Longest wait between claims when idle.")  # fmt: skip
@click.option("--cancel-grace", type=GRACE, default=AgentConfig.cancel_grace,
              show_default=True, help="Seconds from SIGTERM to SIGKILL of a run.")  # fmt: skip
@click.option("--shutdown-grace", type=GRACE, default=AgentConfig.shutdown_grace,
              show_default=True, help="Seconds runs get to finish on shutdown.")  # fmt: skip
@click.option("--heartbeat-interval", type=SECONDS, hidden=True,
              default=AgentConfig.heartbeat_interval)  # fmt: skip
@click.option("--cancel-check-interval", type=SECONDS, hidden=True,
              default=AgentConfig.cancel_check_interval)  # fmt: skip
@click.option("--watch-interval", type=GRACE, hidden=True, default=AgentConfig.watch_interval)
@click.option("--image", default=None, help="docker: the image of runs that name none.")
@click.option("--network", default=None, help="docker: the Docker network runs join.")
@click.option("--volume", "volumes", multiple=True, metavar="HOST:CONTAINER[:MODE]",
              help="docker: a mount every run gets (repeatable).")  # fmt: skip
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE",
              help="docker: a variable every run gets (repeatable).")  # fmt: skip
@click.pass_context
def start(ctx: click.Context, /, agent_type: str, **options: Any) -> None:
    """Start an agent: claim runs of a work queue and run them until stopped."""
    if InfrastructureType(agent_type) not in AVAILABLE:
        raise UsageError(f"the {agent_type} agent is not available yet; use --type local")
    docker_options = {key: options.pop(key) for key in ("image", "network", "volumes", "env")}
    options["name"] = options["name"] or socket.gethostname()
    config = _config(options)
    settings = _settings(ctx)
    _configure_logging()
    with StratoflowClient(settings) as client:
        runner = _agent(InfrastructureType(agent_type), config, client, settings, docker_options)
        with stop_on_signals(runner):
            try:
                runner.run()
            except AgentError as exc:  # e.g. a workspace folder that is not ours
                raise click.ClickException(str(exc)) from exc


def _agent(
    agent_type: InfrastructureType, config: AgentConfig, client: StratoflowClient,
    settings: ClientSettings, docker_options: dict[str, Any],
) -> BaseAgent:  # fmt: skip
    if agent_type is InfrastructureType.LOCAL:
        return LocalAgent(config, client, settings, dict(os.environ))
    from stratoflow_agents.docker import DockerAgent  # imports the docker SDK only when made

    env = {}
    for item in docker_options["env"]:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {item!r}: expected KEY=VALUE")
        env[key] = value
    try:
        return DockerAgent(
            config, client, settings, image=docker_options["image"],
            network=docker_options["network"], volumes=docker_options["volumes"], env=env,
        )  # fmt: skip
    except (ValueError, AgentError) as exc:  # a bad --volume/--env/--image; no docker SDK
        raise UsageError(str(exc)) from exc


def _config(options: dict[str, Any]) -> AgentConfig:
    try:
        return AgentConfig(**options)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _settings(ctx: click.Context) -> ClientSettings:
    overrides = (ctx.find_root().obj or {}).get("overrides", {})
    try:
        settings = load_client_settings(**overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if settings.offline:
        raise UsageError(
            "no API configured: set STRATOFLOW_API_URL, pass --api-url, "
            "or run `stratoflow server start`"
        )
    return settings


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
