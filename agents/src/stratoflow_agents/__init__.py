"""Stratoflow pull agents: claim runs of a work queue and run them on an infrastructure.

`BaseAgent` is the shared loop (claim with backoff, heartbeat, watch, cancel, shut down); each
infrastructure type subclasses it with a `launch`. `LocalAgent` runs flows as local processes.
"""

from stratoflow_agents.base import BaseAgent
from stratoflow_agents.config import AgentConfig
from stratoflow_agents.errors import AgentError, LaunchError
from stratoflow_agents.handles import RunHandle, StopReason
from stratoflow_agents.local import LocalAgent, LocalRunHandle

__all__ = [
    "AgentConfig",
    "AgentError",
    "BaseAgent",
    "LaunchError",
    "LocalAgent",
    "LocalRunHandle",
    "RunHandle",
    "StopReason",
]
