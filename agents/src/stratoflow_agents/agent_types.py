"""How `stratoflow agent start --type T` builds the agent of each type from its options.

Each type's options carry a prefix (`k8s_`, `vertex_`, `ecs_`) in the command's keyword
arguments; `build_agent` hands a type only its own. A type's module, and the client library of
its extra, is imported only when that type is started, so a missing extra is a usage error
naming it, and `--type local` never pays for the others.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

import click

from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.infrastructure import InfraSettingsError, settings_for
from stratoflow.schemas import InfrastructureType
from stratoflow_agents.base import BaseAgent
from stratoflow_agents.config import AgentConfig
from stratoflow_agents.errors import AgentError
from stratoflow_agents.local import LocalAgent

EXIT_USAGE = 2
PREFIXES = {
    InfrastructureType.DOCKER: "docker_",
    InfrastructureType.KUBERNETES: "k8s_",
    InfrastructureType.VERTEX: "vertex_",
    InfrastructureType.ECS: "ecs_",
}
"""The keyword prefix of each type's own options."""
SHARED = {"image": (InfrastructureType.DOCKER, InfrastructureType.KUBERNETES)}
"""Options more than one type reads, unprefixed."""


class UsageError(click.ClickException):
    """Bad input or a missing setting: message printed, exit status 2."""

    exit_code = EXIT_USAGE


Builder = Callable[[AgentConfig, StratoflowClient, ClientSettings, dict[str, Any]], BaseAgent]


def split_options(options: dict[str, Any]) -> dict[InfrastructureType, dict[str, Any]]:
    """Take every type's own options out of `options` (unprefixed), leaving the common ones."""
    found: dict[InfrastructureType, dict[str, Any]] = {}
    for kind, prefix in PREFIXES.items():
        mine = [key for key in options if key.startswith(prefix)]
        found[kind] = {key.removeprefix(prefix): options.pop(key) for key in mine}
    for name, kinds in SHARED.items():
        value = options.pop(name, None)
        for kind in kinds:
            found[kind][name] = value
    return found


def build_agent(
    kind: InfrastructureType,
    config: AgentConfig,
    client: StratoflowClient,
    settings: ClientSettings,
    options: dict[str, Any],
) -> BaseAgent:
    """The agent of `kind`, with its own `options`."""
    builder = BUILDERS.get(kind)
    if builder is None:
        return LocalAgent(config, client, settings, dict(os.environ))
    return builder(config, client, settings, options)


def _needs(module: str, extra: str) -> None:
    """A usage error naming the extra when `module` cannot be imported."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        found = False
    if not found:
        raise UsageError(f"this agent needs its extra: pip install 'stratoflow-agents[{extra}]'")


def _docker(
    config: AgentConfig, client: StratoflowClient, settings: ClientSettings, options: dict[str, Any]
) -> BaseAgent:
    _needs("docker", "docker")
    from stratoflow_agents.docker import DockerAgent

    env: dict[str, str] = {}
    for item in options["env"]:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {item!r}: expected KEY=VALUE")
        env[key] = value
    try:
        return DockerAgent(
            config, client, settings, image=options["image"], network=options["network"],
            volumes=options["volumes"], env=env,
        )  # fmt: skip
    except (ValueError, AgentError) as exc:  # a bad --volume or --image
        raise UsageError(str(exc)) from exc


def _kubernetes(
    config: AgentConfig, client: StratoflowClient, settings: ClientSettings, options: dict[str, Any]
) -> BaseAgent:
    _needs("kubernetes", "kubernetes")
    from stratoflow_agents.kubernetes import KubernetesAgent, connect

    defaults: dict[str, Any] = {
        key: options[key] for key in ("namespace", "image") if options[key] is not None
    }
    if options["api_key_secret"]:
        name, _, key = options["api_key_secret"].partition(":")
        defaults["api_key_secret"] = {"name": name, "key": key or "api-key"}
    api = connect(options["kubeconfig"])
    return KubernetesAgent(config, client, settings, api, job_defaults=defaults)


def _vertex(
    config: AgentConfig, client: StratoflowClient, settings: ClientSettings, options: dict[str, Any]
) -> BaseAgent:
    defaults = {key: value for key, value in options.items() if value is not None}
    try:
        settings_for(InfrastructureType.VERTEX, defaults)
    except InfraSettingsError as exc:
        raise UsageError(str(exc)) from exc
    _needs("google.cloud.aiplatform_v1", "vertex")
    from stratoflow_agents.vertex import VertexAgent

    return VertexAgent(
        config, client, settings.api_url or "",
        project=options.get("project"), region=options.get("region"),
    )  # fmt: skip


def _ecs(
    config: AgentConfig, client: StratoflowClient, settings: ClientSettings, options: dict[str, Any]
) -> BaseAgent:
    if not options["cluster"]:
        raise UsageError("--type ecs needs --cluster (or STRATOFLOW_ECS_CLUSTER)")
    _needs("boto3", "ecs")
    from stratoflow_agents.ecs import EcsAgent

    return EcsAgent(config, client, settings, **options)


BUILDERS: dict[InfrastructureType, Builder] = {
    InfrastructureType.DOCKER: _docker,
    InfrastructureType.KUBERNETES: _kubernetes,
    InfrastructureType.VERTEX: _vertex,
    InfrastructureType.ECS: _ecs,
}
