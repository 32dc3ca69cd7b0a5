"""Stratoflow: write workflows as plain Python and run them on serverless AWS.

The public API of the SDK is exactly what `__all__` lists; a test pins it. Names load on
first use (PEP 562), so `import stratoflow.schemas` in the control plane does not pay for the
engine and the HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stratoflow._version import __version__

if TYPE_CHECKING:
    from stratoflow.client import StratoflowClient, get_client
    from stratoflow.exceptions import (
        CancelledRunError,
        ParameterValidationError,
        StratoflowError,
        TaskTimeoutError,
        UpstreamTaskError,
    )
    from stratoflow.flows import Flow, flow
    from stratoflow.futures import StratoflowFuture
    from stratoflow.runtime.context import FlowRunContext, TaskRunContext
    from stratoflow.runtime.logs import get_run_logger
    from stratoflow.schemas import State, StateType
    from stratoflow.tasks import Task, task, unmapped

_LAZY: dict[str, str] = {
    "CancelledRunError": "stratoflow.exceptions",
    "Flow": "stratoflow.flows",
    "FlowRunContext": "stratoflow.runtime.context",
    "ParameterValidationError": "stratoflow.exceptions",
    "State": "stratoflow.schemas",
    "StateType": "stratoflow.schemas",
    "StratoflowClient": "stratoflow.client",
    "StratoflowError": "stratoflow.exceptions",
    "StratoflowFuture": "stratoflow.futures",
    "Task": "stratoflow.tasks",
    "TaskRunContext": "stratoflow.runtime.context",
    "TaskTimeoutError": "stratoflow.exceptions",
    "UpstreamTaskError": "stratoflow.exceptions",
    "flow": "stratoflow.flows",
    "get_client": "stratoflow.client",
    "get_run_logger": "stratoflow.runtime.logs",
    "task": "stratoflow.tasks",
    "unmapped": "stratoflow.tasks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stratoflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CancelledRunError",
    "Flow",
    "FlowRunContext",
    "ParameterValidationError",
    "State",
    "StateType",
    "StratoflowClient",
    "StratoflowError",
    "StratoflowFuture",
    "Task",
    "TaskRunContext",
    "TaskTimeoutError",
    "UpstreamTaskError",
    "__version__",
    "flow",
    "get_client",
    "get_run_logger",
    "task",
    "unmapped",
]
