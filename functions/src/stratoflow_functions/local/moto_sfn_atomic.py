"""Make the embedded emulator's StartExecution atomic per name, as Step Functions is.

moto looks for an execution with the requested name and then appends a new one with no lock,
so two threads starting the same name at once (the local scheduler's tick and a manual run,
or the race tests) can both create it: two launches of one run, which real Step Functions
never allows. The local stack and the dispatch race tests serialise moto's StartExecution
(both its plain and its executing backend; moto's, not ours) under one re-entrant lock.
"""

from __future__ import annotations

import functools
import threading
from typing import Any


def make_moto_sfn_atomic() -> None:
    """Serialise moto's StartExecution (idempotent: patches once per process)."""
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    lock = threading.RLock()
    for backend in (StepFunctionBackend, StepFunctionsParserBackend):
        if backend.__dict__.get("_stratoflow_atomic", False):
            continue
        original = backend.__dict__["start_execution"]

        @functools.wraps(original)
        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        backend.start_execution = locked  # type: ignore[method-assign]
        backend._stratoflow_atomic = True  # type: ignore[attr-defined]
