"""Stratoflow pull agents: claim runs of a work queue and run them on an infrastructure.

`Agent` is the shared loop (claim with backoff, heartbeat, watch, cancel, shut down); each
infrastructure type subclasses it with a `launch`. `LocalAgent` runs flows as local processes.
"""

from stratoflow_agents.base import Agent
from stratoflow_agents.config import AgentConfig
from stratoflow_agents.errors import AgentError, LaunchError
from stratoflow_agents.handles import RunHandle, StopReason
from stratoflow_agents.local import LocalAgent, LocalRunHandle

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentError",
    "LaunchError",
    "LocalAgent",
    "LocalRunHandle",
    "RunHandle",
    "StopReason",
]
