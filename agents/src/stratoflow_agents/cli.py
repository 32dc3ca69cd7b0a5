"""`stratoflow agent start`: run a pull agent on a work queue (plugged in through the
`stratoflow.cli` entry point, so the SDK does not depend on this package).

Every infrastructure but Lambda (which only the stack launches) has an agent; `agent_types`
builds each from its own options, importing a type's module (and its extra's client) only
when that type is started. Ctrl-C or SIGTERM stop the agent gracefully (a second one skips the
shutdown grace). This is the boundary where the process environment is read, once, and handed
to the agent.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import click

from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings, load_client_settings
from stratoflow.schemas import InfrastructureType
from stratoflow_agents.agent_types import UsageError, build_agent, split_options
from stratoflow_agents.config import MAX_PREFETCH_SECONDS, AgentConfig
from stratoflow_agents.errors import AgentError
from stratoflow_agents.signals import stop_on_signals

SECONDS = click.FloatRange(min=0.01)
GRACE = click.FloatRange(min=0)


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
@click.option("--prefetch", "prefetch_seconds", type=click.FloatRange(0, MAX_PREFETCH_SECONDS),
              default=AgentConfig.prefetch_seconds, show_default=True,
              help="Claim runs due within this many seconds and start them on time; idle "
                   "polls come at least every half of it.")  # fmt: skip
@click.option("--cancel-grace", type=GRACE, default=AgentConfig.cancel_grace,
              show_default=True, help="Seconds from SIGTERM to SIGKILL of a run.")  # fmt: skip
@click.option("--shutdown-grace", type=GRACE, default=AgentConfig.shutdown_grace,
              show_default=True, help="Seconds runs get to finish on shutdown.")  # fmt: skip
@click.option("--heartbeat-interval", type=SECONDS, hidden=True,
              default=AgentConfig.heartbeat_interval)  # fmt: skip
@click.option("--cancel-check-interval", type=SECONDS, hidden=True,
              default=AgentConfig.cancel_check_interval)  # fmt: skip
@click.option("--watch-interval", type=GRACE, hidden=True, default=AgentConfig.watch_interval)
@click.option("--kubeconfig", "k8s_kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="kubernetes: a kubeconfig (default: in-cluster, ~/.kube/config).")  # fmt: skip
@click.option("--namespace", "k8s_namespace", default=None,
              help="kubernetes: the namespace of the Jobs (default: default).")  # fmt: skip
@click.option("--image", "image", default=None,
              help="docker, kubernetes: the image of runs that name none.")  # fmt: skip
@click.option("--network", "docker_network", default=None,
              help="docker: the Docker network runs join.")  # fmt: skip
@click.option("--volume", "docker_volumes", multiple=True, metavar="HOST:CONTAINER[:MODE]",
              help="docker: a mount every run gets (repeatable).")  # fmt: skip
@click.option("--env", "docker_env", multiple=True, metavar="KEY=VALUE",
              help="docker: a variable every run gets (repeatable).")  # fmt: skip
@click.option("--api-key-secret", "k8s_api_key_secret", default=None, metavar="NAME[:KEY]",
              help="kubernetes: the Secret (and key, default api-key) the pods read the API "
                   "key from.")  # fmt: skip
@click.option("--project", "vertex_project", envvar="STRATOFLOW_VERTEX_PROJECT", default=None,
              help="vertex: the default GCP project (a deployment's `project` wins).")  # fmt: skip
@click.option("--region", "vertex_region", envvar="STRATOFLOW_VERTEX_REGION", default=None,
              help="vertex: the default region (a deployment's `region` wins).")  # fmt: skip
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
    kind = InfrastructureType(agent_type)
    if kind is InfrastructureType.LAMBDA:
        raise UsageError(
            "there is no lambda agent: the stack's Lambda launcher runs --infra lambda runs"
        )
    own = split_options(options).get(kind, {})
    options["name"] = options["name"] or socket.gethostname()
    config = _config(options)
    settings = _settings(ctx)
    _configure_logging()
    with StratoflowClient(settings) as client:
        try:
            started = build_agent(kind, config, client, settings, own)
            with stop_on_signals(started):
                started.run()
        except AgentError as exc:  # e.g. a workspace folder or a kubeconfig that is unusable
            raise click.ClickException(str(exc)) from exc


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
