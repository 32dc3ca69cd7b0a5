"""What a finished run hands back: the state it ended in and its value or exception."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stratoflow.exceptions import FlowRunFailedError
from stratoflow.schemas import State, StateType


@dataclass(frozen=True)
class Outcome:
    """A run's final state, with the value it returned or the exception it raised."""

    state: State
    value: Any = None
    exception: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the run completed."""
        return self.state.type == StateType.COMPLETED

    def unwrap(self) -> Any:
        """The value, or raise the exception (or `FlowRunFailedError` if there is none)."""
        if self.exception is not None:
            raise self.exception
        if not self.ok:
            raise FlowRunFailedError(f"run ended {self.state.name}: {self.state.message or ''}")
        return self.value
