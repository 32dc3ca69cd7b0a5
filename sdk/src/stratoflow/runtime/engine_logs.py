"""What the engine itself writes to a run's log, as Prefect's engine does.

- ERROR `Task run 'name' failed: <exception>` and the traceback, when a task run fails for good;
- WARNING `Task run 'name' failed; retrying in N s (attempt k of m): <exception>` before a retry;
- ERROR `Flow run 'name' failed: <exception>` and the traceback, when the flow function raises;
- `Finished in state Completed()` (INFO; ERROR for Failed/Crashed) when a flow run ends.

They go through the run's `LogShipper` like `get_run_logger()` lines (batched, off the hot
path), on the `stratoflow.runs.task_runs` and `stratoflow.runs.flow_runs` loggers, task lines
with their `task_run_id`. A traceback too long for one line (`MAX_LOG_MESSAGE_CHARS`) keeps its
start and its end, where the exception is.
"""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING, Any
from uuid import UUID

from stratoflow.runtime.logs import RUN_LOGGER, SHIPPED
from stratoflow.schemas import LogCreate, State, StateType
from stratoflow.schemas.common import MAX_LOG_MESSAGE_CHARS

if TYPE_CHECKING:
    from stratoflow.runtime.context import FlowRunContext

TASK_RUNS_LOGGER = f"{RUN_LOGGER}.task_runs"
FLOW_RUNS_LOGGER = f"{RUN_LOGGER}.flow_runs"
_ELIDED = "\n  ... [traceback shortened] ...\n"


def failure_message(exc: BaseException) -> str:
    """An exception as one line: `TypeName: text`."""
    return f"{type(exc).__name__}: {exc}"


def with_traceback(header: str, exc: BaseException, limit: int = MAX_LOG_MESSAGE_CHARS) -> str:
    """`header`, then the exception's traceback; the middle is cut if it is over `limit`."""
    text = f"{header}\n{''.join(traceback.format_exception(exc)).rstrip()}"
    if len(text) <= limit:
        return text
    keep = (limit - len(_ELIDED)) // 2
    return text[:keep] + _ELIDED + text[-keep:]


def _adapter(name: str, extra: dict[str, Any]) -> logging.LoggerAdapter[logging.Logger]:
    return logging.LoggerAdapter(logging.getLogger(name), extra)


def task_run_logger(
    flow_run: FlowRunContext, task_run_id: UUID, task_run_name: str
) -> logging.LoggerAdapter[logging.Logger]:
    """The engine's logger for one task run (its lines carry the task run's id)."""
    extra = {
        "flow_run_id": flow_run.flow_run_id,
        "task_run_id": task_run_id,
        "run_name": f"task run {task_run_name!r}",
    }
    return _adapter(TASK_RUNS_LOGGER, extra)


def flow_run_logger(
    flow_run_id: UUID, name: str, shipped: bool = False
) -> logging.LoggerAdapter[logging.Logger]:
    """The engine's logger for a flow run (`shipped`: its lines were recorded another way and
    only go to the console)."""
    extra = {"flow_run_id": flow_run_id, "run_name": f"flow run {name!r}", SHIPPED: shipped}
    return _adapter(FLOW_RUNS_LOGGER, extra)


def log_task_failed(
    logger: logging.LoggerAdapter[logging.Logger], name: str, exc: BaseException
) -> None:
    """ERROR: the task run failed for good, with the traceback."""
    logger.error(with_traceback(f"Task run {name!r} failed: {failure_message(exc)}", exc))


def log_task_retry(
    logger: logging.LoggerAdapter[logging.Logger],
    name: str,
    exc: BaseException,
    *,
    delay: float,
    attempt: int,
    attempts: int,
) -> None:
    """WARNING: the task run failed and will be retried."""
    logger.warning(
        f"Task run {name!r} failed; retrying in {delay:g} s (attempt {attempt} of {attempts}): "
        f"{failure_message(exc)}"
    )


def log_flow_failed(
    logger: logging.LoggerAdapter[logging.Logger], name: str, exc: BaseException
) -> None:
    """ERROR: the flow function raised, with the traceback."""
    logger.error(with_traceback(f"Flow run {name!r} failed: {failure_message(exc)}", exc))


def state_repr(state: State) -> str:
    """`Completed()`, `Failed('message')`: a state as Prefect prints it."""
    return f"{state.name}({state.message!r})" if state.message else f"{state.name}()"


def log_finished(logger: logging.LoggerAdapter[logging.Logger], state: State) -> None:
    """`Finished in state ...`: INFO, or ERROR for a failed or crashed run."""
    logger.log(_finished_level(state), _finished_message(state))


def finished_line(flow_run_id: UUID, state: State) -> LogCreate:
    """The `Finished in state ...` line as a record, to send with the final state itself."""
    return LogCreate(
        flow_run_id=flow_run_id, level=_finished_level(state), name=FLOW_RUNS_LOGGER,
        message=_finished_message(state),
    )  # fmt: skip


def _finished_level(state: State) -> int:
    return logging.ERROR if state.type in (StateType.FAILED, StateType.CRASHED) else logging.INFO


def _finished_message(state: State) -> str:
    return f"Finished in state {state_repr(state)}"


__all__ = [
    "FLOW_RUNS_LOGGER",
    "TASK_RUNS_LOGGER",
    "failure_message",
    "finished_line",
    "flow_run_logger",
    "log_finished",
    "log_flow_failed",
    "log_task_failed",
    "log_task_retry",
    "state_repr",
    "task_run_logger",
    "with_traceback",
]
