"""Each package's public API is exactly what `__all__` lists; changing it is a decision."""

from __future__ import annotations

import stratoflow
import stratoflow.schemas


def test_every_name_in_all_exists() -> None:
    for module in (stratoflow, stratoflow.schemas):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], module.__name__


def test_stratoflow_public_api_is_pinned() -> None:
    required = {"flow", "task", "get_run_logger", "State", "StateType", "__version__"}
    assert required <= set(stratoflow.__all__)
    assert sorted(stratoflow.__all__) == sorted(PINNED_STRATOFLOW_ALL)


PINNED_STRATOFLOW_ALL = [
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
