"""`stratoflow agent start`: run a pull agent on a work queue (plugged in through the
`stratoflow.cli` entry point, so the SDK does not depend on this package).

The local and ECS agents exist; the other types exit 2 saying so. A type's module is imported
only when that type is started (its extra may not be installed). Ctrl-C or SIGTERM stop the
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
AVAILABLE = frozenset({InfrastructureType.LOCAL, InfrastructureType.ECS})
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
@click.option("--cluster", "ecs_cluster", envvar="STRATOFLOW_ECS_CLUSTER",
              help="ecs: the cluster tasks run in (name or ARN).")  # fmt: skip
@click.option("--subnet", "ecs_subnets", multiple=True, help="ecs: a default subnet (repeatable).")
@click.option("--security-group", "ecs_security_groups", multiple=True,
              help="ecs: a default security group (repeatable).")  # fmt: skip
@click.option("--assign-public-ip/--no-assign-public-ip", "ecs_assign_public_ip", default=False,
              help="ecs: give tasks a public IP by default.")  # fmt: skip
@click.option("--execution-role-arn", "ecs_execution_role_arn", default=None,
              help="ecs: the default task execution role.")  # fmt: skip
@click.option("--task-role-arn", "ecs_task_role_arn", default=None,
              help="ecs: the default task role.")  # fmt: skip
@click.option("--log-group", "ecs_log_group", default="/stratoflow/flow-runs", show_default=True,
              help="ecs: the containers' CloudWatch log group.")  # fmt: skip
@click.option("--api-key-secret-arn", "ecs_api_key_secret_arn", default=None,
              envvar="STRATOFLOW_API_KEY_SECRET_ARN",
              help="ecs: the secret ECS puts into the task's STRATOFLOW_API_KEY.")  # fmt: skip
@click.pass_context
def start(ctx: click.Context, /, agent_type: str, **options: Any) -> None:
    """Start an agent: claim runs of a work queue and run them until stopped."""
    if InfrastructureType(agent_type) not in AVAILABLE:
        raise UsageError(f"the {agent_type} agent is not available yet; use --type local")
    ecs_options = {
        k.removeprefix("ecs_"): options.pop(k) for k in list(options) if k.startswith("ecs_")
    }
    options["name"] = options["name"] or socket.gethostname()
    config = _config(options)
    settings = _settings(ctx)
    _configure_logging()
    with StratoflowClient(settings) as client:
        try:
            if InfrastructureType(agent_type) is InfrastructureType.ECS:
                started: BaseAgent = _ecs_agent(config, client, settings, ecs_options)
            else:
                started = LocalAgent(config, client, settings, dict(os.environ))
            with stop_on_signals(started):
                started.run()
        except AgentError as exc:  # e.g. a workspace folder that is not ours
            raise click.ClickException(str(exc)) from exc


def _ecs_agent(
    config: AgentConfig, client: StratoflowClient, settings: ClientSettings, options: dict[str, Any]
) -> BaseAgent:
    if not options["cluster"]:
        raise UsageError("--type ecs needs --cluster (or STRATOFLOW_ECS_CLUSTER)")
    try:
        from stratoflow_agents.ecs import EcsAgent
    except ImportError as exc:
        raise UsageError(
            f"--type ecs needs boto3: pip install 'stratoflow-agents[ecs]' ({exc})"
        ) from exc
    return EcsAgent(
        config, client, settings,
        cluster=options["cluster"],
        subnets=options["subnets"],
        security_groups=options["security_groups"],
        assign_public_ip=options["assign_public_ip"],
        execution_role_arn=options["execution_role_arn"],
        task_role_arn=options["task_role_arn"],
        log_group=options["log_group"],
        api_key_secret_arn=options["api_key_secret_arn"],
    )  # fmt: skip


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
