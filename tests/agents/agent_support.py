"""Fakes for the agent loop's unit tests: an API client, a clock, run handles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from stratoflow.client import ConflictError, NotFoundError
from stratoflow.schemas import Agent as AgentRecord
from stratoflow.schemas import (
    AgentHeartbeat,
    ClaimedRun,
    ClaimRequest,
    ClaimResponse,
    DecisionStatus,
    FlowRun,
    FlowRunHeartbeat,
    InfrastructureType,
    OrchestrationResult,
    State,
    StateProposal,
    StateType,
    utcnow,
)
from stratoflow_agents import AgentConfig, BaseAgent, RunHandle


def flow_run(
    state: StateType = StateType.PENDING, name: str = "", work_queue: str = "q"
) -> FlowRun:
    """A flow run of `work_queue` in `state` (named `name`, or the type's default name)."""
    now = utcnow()
    return FlowRun(
        id=uuid4(), name="run", flow_id=uuid4(), state=State(type=state, name=name),
        work_queue=work_queue, created=now, updated=now,
    )  # fmt: skip


@dataclass
class FakeClock:
    """A monotonic clock that only moves when the agent sleeps (or a test advances it)."""

    now: float = 0.0
    naps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


class FakeClient:
    """The API, as far as an agent sees it: claims, heartbeats, reads and proposals.

    `claims` is a script: each claim takes the next item (a list of runs, or an exception to
    raise); an exhausted script answers with no runs. Runs handed out are remembered and can
    be read back and moved; proposals move them (terminal states are final, as on the server).
    """

    def __init__(
        self, clock: FakeClock, claims: Sequence[list[FlowRun] | Exception] | None = None
    ) -> None:
        self.clock = clock
        self.claims: list[list[FlowRun] | Exception] = list(claims or [])
        self.claim_times: list[float] = []
        self.claim_requests: list[ClaimRequest] = []
        self.heartbeat_times: list[float] = []
        self.heartbeat_error: Exception | None = None
        self.runs: dict[UUID, FlowRun] = {}
        self.proposals: list[tuple[UUID, State]] = []
        self.conflicts: list[tuple[UUID, State]] = []
        self.after_read: Callable[[UUID], None] | None = None
        """Called after each read: another actor moving the run before the agent proposes."""
        self.run_heartbeats: list[tuple[UUID, str | None]] = []
        self.run_heartbeat_error: Exception | None = None

    def claim_runs(self, name: str, body: ClaimRequest) -> ClaimResponse:
        self.claim_times.append(self.clock.now)
        self.claim_requests.append(body)
        answer = self.claims.pop(0) if self.claims else []
        if isinstance(answer, Exception):
            raise answer
        assert len(answer) <= body.limit, "the fake never hands out more than asked"
        self.runs.update({run.id: run for run in answer})
        return ClaimResponse(runs=[ClaimedRun(flow_run=run) for run in answer])

    def agent_heartbeat(self, agent_id: UUID, body: AgentHeartbeat) -> AgentRecord:
        self.heartbeat_times.append(self.clock.now)
        if self.heartbeat_error is not None:
            raise self.heartbeat_error
        return AgentRecord(id=agent_id, last_heartbeat=utcnow(), **body.model_dump())

    def read_flow_run(self, flow_run_id: UUID) -> FlowRun:
        if flow_run_id not in self.runs:  # as the API answers an id it does not know
            raise NotFoundError(404, "not_found", f"flow run {flow_run_id} not found")
        run = self.runs[flow_run_id]
        if self.after_read is not None:
            self.after_read(flow_run_id)
        return run

    def set_flow_run_state(self, flow_run_id: UUID, proposal: StateProposal) -> OrchestrationResult:
        self.proposals.append((flow_run_id, proposal.state))
        run = self.runs[flow_run_id]
        expected = proposal.expected_version
        if expected is not None and expected != run.version:
            self.conflicts.append((flow_run_id, proposal.state))
            raise ConflictError(409, "version_conflict", f"at {run.version}, not {expected}")
        if run.state.is_terminal:
            return OrchestrationResult(status=DecisionStatus.ABORT, version=run.version)
        self.move(flow_run_id, proposal.state)
        return OrchestrationResult(status=DecisionStatus.ACCEPT, state=proposal.state, version=1)

    def heartbeat_flow_run(
        self, flow_run_id: UUID, body: FlowRunHeartbeat | None = None
    ) -> FlowRun:
        """Like the server: a given infrastructure id is kept on the run, None changes nothing."""
        infrastructure_id = body.infrastructure_id if body is not None else None
        self.run_heartbeats.append((flow_run_id, infrastructure_id))
        if self.run_heartbeat_error is not None:
            raise self.run_heartbeat_error
        run = self.runs[flow_run_id]
        if infrastructure_id is not None:
            run = run.model_copy(update={"infrastructure_id": infrastructure_id})
            self.runs[flow_run_id] = run
        return run

    def move(self, flow_run_id: UUID, state: State) -> None:
        """Set a run's state, as another actor (the engine, a user) would (one version on)."""
        run = self.runs[flow_run_id]
        self.runs[flow_run_id] = run.model_copy(update={"state": state, "version": run.version + 1})

    def state_of(self, flow_run_id: UUID) -> State:
        return self.runs[flow_run_id].state


class FakeHandle(RunHandle):
    """A run's infrastructure that ends when the test says so (or when killed)."""

    def __init__(self, run_id: UUID, ignores_terminate: bool = False) -> None:
        self.run_id = run_id
        self.ignores_terminate = ignores_terminate
        self.exit_code: int | None = None
        self.last_words: str | None = None
        self.signals: list[str] = []
        self.cleaned = False

    @property
    def infrastructure_id(self) -> str:
        return f"fake:{self.run_id}"

    def poll(self) -> int | None:
        return self.exit_code

    def terminate(self) -> None:
        self.signals.append("TERM")
        if not self.ignores_terminate and self.exit_code is None:
            self.exit_code = -15

    def kill(self) -> None:
        self.signals.append("KILL")
        if self.exit_code is None:
            self.exit_code = -9

    def failure_detail(self) -> str | None:
        return self.last_words

    def cleanup(self) -> None:
        self.cleaned = True


class FakeAgent(BaseAgent):
    """An agent whose launches make `FakeHandle`s (or run `on_launch` instead)."""

    infrastructure = InfrastructureType.LOCAL

    def __init__(self, *args: Any, ignores_terminate: bool = False,
                 on_launch: Callable[[ClaimedRun], RunHandle] | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.handles: dict[UUID, FakeHandle] = {}
        self.ignores_terminate = ignores_terminate
        self.on_launch = on_launch

    def launch(self, claimed: ClaimedRun) -> RunHandle:
        if self.on_launch is not None:
            return self.on_launch(claimed)
        handle = FakeHandle(claimed.flow_run.id, self.ignores_terminate)
        self.handles[claimed.flow_run.id] = handle
        return handle


def make_agent(
    claims: Sequence[list[FlowRun] | Exception] | None = None, **config: Any
) -> tuple[FakeAgent, FakeClient, FakeClock]:
    """An agent on a fake clock and a fake API, with `config` over quick-to-read defaults."""
    options: dict[str, Any] = {
        "work_queue": "q", "limit": 5, "poll_interval": 2.0, "backoff_max": 15.0,
        "backoff_jitter": 0.0, "heartbeat_interval": 30.0, "cancel_check_interval": 5.0,
        "watch_interval": 1.0, "cancel_grace": 10.0, "shutdown_grace": 20.0,
    }  # fmt: skip
    options.update(config)
    agent_options = {
        k: options.pop(k) for k in ("ignores_terminate", "on_launch", "wall_clock") if k in options
    }
    clock = FakeClock()
    client = FakeClient(clock, claims)
    agent = FakeAgent(
        AgentConfig(**options), client, clock=clock, sleep=clock.sleep, rand=lambda: 0.0,
        **agent_options,
    )  # fmt: skip
    return agent, client, clock


def run_for(agent: BaseAgent, clock: FakeClock, seconds: float) -> None:
    """Tick the agent (sleeping on the fake clock between ticks) for `seconds` of fake time."""
    end = clock.now + seconds
    while clock.now < end:
        agent.tick()
        clock.sleep(max(agent._nap(clock.now), 0.001))


def run_until(agent: BaseAgent, clock: FakeClock, done: Callable[[], bool], limit: float) -> None:
    """Tick until `done()`, failing if it takes more than `limit` seconds of fake time."""
    end = clock.now + limit
    while not done():
        assert clock.now < end, "the agent did not get there in time"
        agent.tick()
        clock.sleep(max(agent._nap(clock.now), 0.001))
