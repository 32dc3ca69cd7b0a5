"""Stratoflow: write workflows as plain Python and run them on serverless AWS.

The public API of the SDK is exactly what `__all__` lists; a test pins it.
"""

from stratoflow._version import __version__
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
