"""The run engine: runs flows and tasks in this process and records them through the API.

`engine` runs flow runs, `task_engine` task runs; `context` holds what a running flow or task
knows; `results`, `logs`, `heartbeat`, `batcher` and `signals` are the services a run uses;
`local` is the in-memory orchestrator used when no API is configured.
"""

from stratoflow.runtime.config import RuntimeConfig, use_runtime
from stratoflow.runtime.context import FlowRunContext, TaskRunContext
from stratoflow.runtime.local import LocalOrchestrator
from stratoflow.runtime.orchestrator import Orchestrator
from stratoflow.runtime.outcome import Outcome

__all__ = [
    "FlowRunContext",
    "LocalOrchestrator",
    "Orchestrator",
    "Outcome",
    "RuntimeConfig",
    "TaskRunContext",
    "use_runtime",
]
