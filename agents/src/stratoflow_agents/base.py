"""`BaseAgent`: the pull-agent loop every infrastructure type shares (Local, Docker, ...).

A subclass says only how to start a claimed run (`launch(claimed) -> RunHandle`); this loop does
the rest, on one thread, one `tick()` at a time:

1. reap: runs whose infrastructure ended are checked against the API, and a run still PENDING
   or RUNNING is proposed CRASHED with the exit code and the infrastructure's last words
   (CANCELLED if it was being cancelled), at the version read; the server's rules decide
   whether the crash is retried;
2. watch: every `cancel_check_interval` each run's state is read; a CANCELLING run is recorded
   CANCELLED and then stopped (terminate, then kill after `cancel_grace`);
3. heartbeat: the agent says it is alive every `heartbeat_interval`;
4. claim: at most `limit - active` runs due within the next `prefetch_seconds` (the claim's
   `due_before`), with an exponential, jittered backoff while the queue is empty or the API
   unreachable, capped at `idle_poll_max` (at most half the prefetch window). A run claimed
   before its time is launched at once: its process gets ready and waits for the run's
   expected start (`stratoflow execute`), so the flow body begins on time.

A run it launches (or finds again after a restart) gets the handle's infrastructure id recorded
at once, through a flow-run heartbeat: best-effort, a failure is only logged.

Once asked to stop (`request_stop()`, e.g. from SIGINT/SIGTERM) it claims nothing more, lets
active runs finish for `shutdown_grace`, then stops the rest (terminate, kill after
`cancel_grace`) and records any still PENDING/RUNNING as CRASHED "agent shut down"; it returns
when no run is left. A second request skips the grace. `prepare()` runs before the first tick
and `release()` after the last (a backend's set-up and clean-up, e.g. the local agent's
workspace). Clock, sleep, randomness and the API client are injected, so the loop is tested
without waiting.
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar
from uuid import UUID, uuid4

from stratoflow.client.errors import StratoflowClientError
from stratoflow.schemas import (
    AgentHeartbeat,
    ClaimedRun,
    ClaimRequest,
    FlowRunHeartbeat,
    InfrastructureType,
    StateType,
    utcnow,
)
from stratoflow_agents.backoff import Backoff
from stratoflow_agents.config import MAX_CLAIM_BATCH, AgentConfig
from stratoflow_agents.errors import LaunchError
from stratoflow_agents.handles import ActiveRun, RunHandle, StopReason
from stratoflow_agents.reporting import (
    AgentClient,
    cancelled_state,
    crashed_state,
    describe_exit,
    final_state,
    propose,
    read_run,
)

logger = logging.getLogger("stratoflow.agent")

ADOPTABLE = frozenset({StateType.PENDING, StateType.RUNNING, StateType.CANCELLING})
"""States of a run a restarted agent takes back: its infrastructure may still run it."""


class BaseAgent(ABC):
    """A pull agent: claims runs of one work queue and runs them on its infrastructure.

    Args:
        config: how to poll, watch and stop runs.
        client: the API (a `StratoflowClient`, or a fake in tests).
        clock: a monotonic clock in seconds.
        wall_clock: the current UTC time (what a claim's `due_before` is counted from).
        sleep: how to wait between ticks.
        rand: the random source for backoff jitter.
        agent_id: this agent's id (a new one by default).
    """

    infrastructure: ClassVar[InfrastructureType]
    """The infrastructure type this agent runs; it claims only runs of that type."""

    def __init__(
        self,
        config: AgentConfig,
        client: AgentClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        agent_id: UUID | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.agent_id = agent_id or uuid4()
        self.active: dict[UUID, ActiveRun] = {}
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._backoff = Backoff(
            config.poll_interval, config.idle_poll_max, config.backoff_jitter, rand
        )
        self._next_claim = float("-inf")
        self._next_heartbeat = float("-inf")
        self._stop_requests = 0  # set from signal handlers: a plain counter, no locks, no I/O
        self._stop_started: float | None = None

    @abstractmethod
    def launch(self, claimed: ClaimedRun) -> RunHandle:
        """Start a claimed run on this agent's infrastructure.

        Raises:
            LaunchError: the run could not be started (it is then recorded CRASHED).
        """

    def prepare(self) -> None:  # noqa: B027 (optional: most backends need no set-up)
        """Set up before the first tick (clean up after dead predecessors, say).

        Raises:
            AgentError: the agent cannot work (it then stops before claiming anything).
        """

    def release(self) -> None:  # noqa: B027 (optional: most backends need no clean-up)
        """Clean up after the last tick, once no run is left."""

    def recover(self) -> dict[UUID, RunHandle]:
        """The runs an earlier agent of this type started and that still run, found again on
        the infrastructure by their run-id label or tag (none by default: a local agent's
        processes die with it). Called once, after `prepare`; the loop then watches those of
        them the API still has PENDING, RUNNING or CANCELLING as if it had launched them.
        """
        return {}

    # --- control --------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop claiming and shut down gracefully; a second call skips the shutdown grace.

        Safe to call from a signal handler: it only counts the request.
        """
        self._stop_requests += 1

    @property
    def stopping(self) -> bool:
        """Whether the agent has been asked to stop."""
        return self._stop_requests > 0

    @property
    def finished(self) -> bool:
        """Whether the agent has been asked to stop and no run is left."""
        return self.stopping and not self.active

    def run(self) -> None:
        """Run the loop until asked to stop and every active run has ended.

        If the loop itself fails, active runs are killed and recorded before the error
        propagates, so none is left running with no one watching.
        """
        self.prepare()
        self.adopt(self.recover())
        logger.info("agent %s polling work queue %r", self.agent_id, self.config.work_queue)
        try:
            while True:
                self.tick()
                if self.finished:
                    break
                self._sleep(self._nap(self._clock()))
        except BaseException:
            self._abandon_all()
            raise
        finally:
            self.release()
        logger.info("agent %s stopped", self.agent_id)

    def tick(self) -> None:
        """One pass of the loop: reap, notice a stop, watch, enforce stops, heartbeat, claim."""
        now = self._clock()
        self._reap()
        self._notice_stop(now)
        self._check_cancellations(now)
        self._enforce_stops(now)
        self._heartbeat_if_due(now)
        self._claim_if_due(now)

    def adopt(self, found: dict[UUID, RunHandle]) -> None:
        """Watch the `found` runs still open; release the handles of the others.

        A run of another work queue is left alone, handle and all: agents of several queues may
        share one cluster (or one Docker daemon), and that run is its own agent's to watch. So is
        a run this API does not know: it may be another control plane's (a staging and a
        production agent on one daemon), and nothing proves it is this agent's to remove.
        """
        now = self._clock()
        for run_id, handle in found.items():
            run = read_run(self.client, run_id)
            if run is None or run.work_queue != self.config.work_queue:
                where = (
                    "unknown to this API" if run is None else f"of work queue {run.work_queue!r}"
                )
                logger.info("flow run %s: %s, left alone", run_id, where)
                continue
            if run.state.type not in ADOPTABLE:
                handle.cleanup()
                continue
            logger.info("flow run %s: found again as %s", run_id, handle.infrastructure_id)
            self.active[run_id] = ActiveRun(ClaimedRun(flow_run=run), handle, next_check=now)
            self._record_infrastructure_id(run_id, handle)

    # --- reaping ended runs -----------------------------------------------------------------

    def _reap(self) -> None:
        for active in list(self.active.values()):
            code = active.handle.poll()
            if code is not None:
                self._finish(active, code)

    def _finish(self, active: ActiveRun, code: int) -> None:
        run_id = active.claimed.flow_run.id
        logger.info("flow run %s: infrastructure ended with %s", run_id, describe_exit(code))
        run = read_run(self.client, run_id)
        if run is not None:
            # A process that exited with an error usually said why; a killed one did not.
            detail = active.handle.failure_detail() if code > 0 else None
            state = final_state(run, code, active.stop_reason, detail)
            if state is not None:
                propose(self.client, run_id, state, run.version)
        active.handle.cleanup()
        del self.active[run_id]

    # --- cancellation and stopping ----------------------------------------------------------

    def _check_cancellations(self, now: float) -> None:
        for active in list(self.active.values()):
            if active.stopping or now < active.next_check:
                continue
            active.next_check = now + self.config.cancel_check_interval
            run = read_run(self.client, active.claimed.flow_run.id)
            if run is None:
                continue
            if run.state.type is StateType.CANCELLING:
                # Recorded before the signal: the engine's SIGTERM handler records CRASHED for a
                # run still open, and CANCELLED (terminal) is what the user asked for.
                propose(self.client, run.id, cancelled_state("cancellation requested"), run.version)
            if run.state.type in (StateType.CANCELLING, StateType.CANCELLED):
                self._begin_stop(active, StopReason.CANCEL, now)

    def _begin_stop(self, active: ActiveRun, reason: StopReason, now: float) -> None:
        logger.info("flow run %s: stopping (%s)", active.claimed.flow_run.id, reason.value)
        active.stop_reason = reason
        active.stop_started = now
        active.handle.terminate()

    def _notice_stop(self, now: float) -> None:
        if self.stopping and self._stop_started is None:
            self._stop_started = now
            logger.info(
                "agent %s shutting down: no more claims; %d active run(s) get %.0fs to finish",
                self.agent_id, len(self.active), self.config.shutdown_grace,
            )  # fmt: skip

    def _shutdown_due(self, now: float) -> bool:
        if self._stop_started is None:
            return False
        return self._stop_requests > 1 or now >= self._stop_started + self.config.shutdown_grace

    def _enforce_stops(self, now: float) -> None:
        if self._shutdown_due(now):
            for active in self.active.values():
                if not active.stopping:
                    self._begin_stop(active, StopReason.SHUTDOWN, now)
        for active in self.active.values():
            grace_over = now >= active.stop_started + self.config.cancel_grace
            if active.stopping and not active.killed and grace_over:
                logger.info("flow run %s: grace over, killing", active.claimed.flow_run.id)
                active.handle.kill()
                active.killed = True

    def _abandon_all(self) -> None:
        for run_id, active in list(self.active.items()):
            active.handle.kill()
            run = read_run(self.client, run_id)
            state = final_state(run, -9, StopReason.SHUTDOWN) if run is not None else None
            if run is not None and state is not None:
                propose(self.client, run_id, state, run.version)
            active.handle.cleanup()
            del self.active[run_id]

    # --- heartbeats and claims --------------------------------------------------------------

    def _heartbeat_if_due(self, now: float) -> None:
        if now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.config.heartbeat_interval
        body = AgentHeartbeat(
            name=self.config.name, type=self.infrastructure, work_queue=self.config.work_queue
        )
        try:
            self.client.agent_heartbeat(self.agent_id, body)
        except StratoflowClientError as exc:
            logger.warning("agent %s: heartbeat failed: %s", self.agent_id, exc)

    def _claim_if_due(self, now: float) -> None:
        if self.stopping or now < self._next_claim:
            return
        free = self.config.limit - len(self.active)
        if free <= 0:
            self._next_claim = now + self.config.poll_interval
            return
        ahead = self.config.prefetch_seconds
        request = ClaimRequest(
            agent_id=self.agent_id,
            limit=min(free, MAX_CLAIM_BATCH),
            infrastructure=[self.infrastructure],
            due_before=self._wall_clock() + timedelta(seconds=ahead) if ahead > 0 else None,
        )
        try:
            claimed = self.client.claim_runs(self.config.work_queue, request).runs
        except StratoflowClientError as exc:
            self._next_claim = now + self._backoff.failure()
            logger.warning("claim failed (next try in %.1fs): %s", self._next_claim - now, exc)
            return
        self._next_claim = now + (self._backoff.success() if claimed else self._backoff.failure())
        for run in claimed:
            self._start(run, now)

    def _start(self, claimed: ClaimedRun, now: float) -> None:
        run_id = claimed.flow_run.id
        try:
            handle = self.launch(claimed)
        except LaunchError as exc:
            logger.warning("flow run %s: launch failed: %s", run_id, exc)
            crashed = crashed_state(f"Could not launch the flow run: {exc}")
            propose(self.client, run_id, crashed, claimed.flow_run.version)
            return
        logger.info("flow run %s: launched as %s", run_id, handle.infrastructure_id)
        next_check = now + self.config.cancel_check_interval
        self.active[run_id] = ActiveRun(claimed, handle, next_check=next_check)
        self._record_infrastructure_id(run_id, handle)

    def _record_infrastructure_id(self, run_id: UUID, handle: RunHandle) -> None:
        """Put the handle's id on the run (a flow-run heartbeat carrying it), so the CLI and the
        dashboard can link to the container, Job or task before the engine's first heartbeat;
        best-effort: a failure is logged, the run goes on."""
        body = FlowRunHeartbeat(infrastructure_id=handle.infrastructure_id)
        try:
            self.client.heartbeat_flow_run(run_id, body)
        except StratoflowClientError as exc:
            logger.warning("flow run %s: cannot record its infrastructure id: %s", run_id, exc)

    # --- pacing -----------------------------------------------------------------------------

    def _nap(self, now: float) -> float:
        """How long to sleep: until the next thing is due, at most `watch_interval`."""
        due = [self._next_heartbeat]
        if not self.stopping:
            due.append(self._next_claim)
        for active in self.active.values():
            if not active.stopping:
                due.append(active.next_check)
            elif not active.killed:
                due.append(active.stop_started + self.config.cancel_grace)
        if self._stop_started is not None and not self._shutdown_due(now):
            due.append(self._stop_started + self.config.shutdown_grace)
        return max(0.0, min(self.config.watch_interval, min(due) - now))
