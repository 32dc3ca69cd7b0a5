"""The flow-run heartbeat: a background thread that tells the API the run is alive.

Every `interval` seconds (30 by default, SPEC section 4) it posts a heartbeat; the answer carries
the run's state, so this is also how a running engine learns it is being cancelled.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from uuid import UUID

from stratoflow.runtime.orchestrator import Orchestrator
from stratoflow.schemas import FlowRunHeartbeat, StateType

HEARTBEAT_SECONDS = 30.0


class Heartbeat:
    """Posts heartbeats until stopped; calls `on_cancelling` once the run is CANCELLING.

    Args:
        orchestrator: the API.
        flow_run_id: the run.
        on_cancelling: called (from the heartbeat thread) when the run must stop.
        interval: seconds between heartbeats.
        infrastructure_id: what runs the flow (a pid, a container id...).
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        flow_run_id: UUID,
        on_cancelling: Callable[[], None],
        interval: float = HEARTBEAT_SECONDS,
        infrastructure_id: str | None = None,
    ) -> None:
        self._orchestrator = orchestrator
        self._flow_run_id = flow_run_id
        self._on_cancelling = on_cancelling
        self._interval = interval
        self._body = FlowRunHeartbeat(infrastructure_id=infrastructure_id)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stratoflow-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        """Start beating (the first beat goes out after one interval)."""
        self._thread.start()
        return self

    def beat(self) -> None:
        """Send one heartbeat now and react to the state it returns."""
        try:
            run = self._orchestrator.heartbeat_flow_run(self._flow_run_id, self._body)
        except Exception as exc:  # a missed beat is retried next interval
            print(f"stratoflow: heartbeat failed: {exc}", file=sys.stderr)
            return
        if run.state.type in (StateType.CANCELLING, StateType.CANCELLED):
            self._on_cancelling()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.beat()

    def stop(self) -> None:
        """Stop beating."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
