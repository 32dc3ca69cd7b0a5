"""The SDK's exception tree: one root, `StratoflowError`, for everything the SDK raises on purpose.

The run engine raises the runtime errors below; the API client's errors
(`stratoflow.client.errors`) derive from the same root so `except StratoflowError` catches both.
`TerminationSignal` is a `BaseException` on purpose: user code that catches `Exception` must not
swallow a SIGTERM.
"""

from __future__ import annotations


class StratoflowError(Exception):
    """Base of every error the SDK raises on purpose."""


class ParameterValidationError(StratoflowError, ValueError):
    """A flow was called with parameters that do not match its type hints."""


class TaskTimeoutError(StratoflowError, TimeoutError):
    """A task run took longer than its `timeout_seconds`."""


class FlowTimeoutError(StratoflowError, TimeoutError):
    """A flow run took longer than its `timeout_seconds`."""


class UpstreamTaskError(StratoflowError):
    """A task was not run because a future it depends on failed."""


class CancelledRunError(StratoflowError):
    """The flow run is being cancelled: no new task runs are started."""


class AbortedRunError(StratoflowError):
    """The API answered ABORT to a state proposal: the engine must stop this run."""


class MissingContextError(StratoflowError, RuntimeError):
    """Something that needs a running flow was used outside one (e.g. `task.submit`)."""


class FlowRunFailedError(StratoflowError):
    """A flow run ended in a non-COMPLETED state without an exception to re-raise."""


class TerminationSignal(BaseException):
    """Raised in the main thread when the process receives SIGTERM."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"received signal {signum}")
        self.signum = signum
