"""Offline and API runs of the same flow give the same state histories.

Hypothesis generates small flows: tasks that succeed or fail, with task retries, flow retries,
a tag whose concurrency limit is 1 (tasks submitted side by side wait for its slot), cache keys
(a repeated key is a cache hit), subflows, and a flow that cancels itself. Each flow runs once
offline (the `LocalOrchestrator`) and once against the real API over real HTTP (moto's server
behind the local HTTP adapter), and the state sequence, (type, name) per version, of every flow
run and task run, and each run's run_count, must be equal. The offline history is the
orchestrator's own record; the API's is rebuilt from its answers (`parity_support`), and the
same rebuilding applied offline must give the orchestrator's record exactly, so the method
cannot hide a difference.

Only timing-free behaviour is generated: cached tasks are called in turn (two at once could
both miss), and the cancel comes after every earlier record has reached the orchestrator, with
the heartbeat too slow to matter. A WAIT writes nothing, so how long the API makes a task wait
for its slot (5 s) changes no history; the offline orchestrator answers it 100 times sooner.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.flows import Flow
from stratoflow.runtime import LocalOrchestrator, RuntimeConfig, use_runtime
from stratoflow.runtime.context import current_flow_run, current_task_run
from stratoflow.runtime.results import LocalResultStore
from stratoflow.schemas import ConcurrencyLimitUpdate, State
from stratoflow.tasks import Task
from tests.fixtures.live_api import LiveApi
from tests.sdk.parity_support import HistoryRecorder, Key, RunRecord, histories
from tests.sdk.support import FAST_WAITS, all_task_runs

MAX_EXAMPLES = 12
"""Generated flows per run of the suite (besides the explicit examples below); each costs
about a second on the API, five more when tasks wait for the tag's slot."""


@dataclass(frozen=True)
class TaskStep:
    """One task call: its first `fails` attempts raise."""

    fails: int = 0
    retries: int = 0
    tagged: bool = False
    cache: str | None = None
    submit: bool = False


@dataclass(frozen=True)
class FlowSpec:
    """A flow: its steps in order, then it raises on its first `fails` attempts."""

    steps: tuple[TaskStep | FlowSpec, ...] = ()
    retries: int = 0
    fails: int = 0
    cancel: bool = False
    """At the end of the body, cancel the run itself (root flows only)."""
    tagged_after_cancel: bool = False
    """Then call a tagged task: its RUNNING is refused, so it ends Cancelled."""


@dataclass
class Backend:
    """Where one run of a spec is recorded: its tag, cache-key salt, and how to cancel."""

    salt: str
    cancel: Callable[[UUID], object]
    names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def tag(self) -> str:
        return f"lim-{self.salt}"


# --- building flows from specs --------------------------------------------------------------


def _task(step: TaskStep, backend: Backend) -> Task[[], int]:
    def body() -> int:
        context = current_task_run()
        assert context is not None
        if context.run_count <= step.fails:
            raise RuntimeError(f"attempt {context.run_count} fails")
        return context.run_count

    cache_key = f"{backend.salt}-{step.cache}"
    return Task(
        body, name=f"step-{next(backend.names)}", retries=step.retries, retry_delay_seconds=0,
        tags=[backend.tag] if step.tagged else [],
        cache_key_fn=(lambda ctx, args: cache_key) if step.cache else None,
    )  # fmt: skip


def _flow(spec: FlowSpec, backend: Backend, name: str) -> Flow[[], int]:
    steps = [_step(step, backend, f"{name}-{i}") for i, step in enumerate(spec.steps)]
    after_cancel = _task(TaskStep(tagged=True), backend)
    attempts = itertools.count(1)

    def body() -> int:
        attempt = next(attempts)
        futures = [future for step in steps if (future := step()) is not None]
        for future in futures:
            future.wait()
        if spec.cancel:
            _cancel_itself(backend, after_cancel if spec.tagged_after_cancel else None)
        if attempt <= spec.fails:
            raise RuntimeError(f"flow attempt {attempt} fails")
        return attempt

    return Flow(body, name=name, retries=spec.retries, retry_delay_seconds=0, task_concurrency=4)


def _step(step: TaskStep | FlowSpec, backend: Backend, name: str) -> Callable[[], Any]:
    if isinstance(step, FlowSpec):
        return _swallowed(_flow(step, backend, name))
    built = _task(step, backend)
    return built.submit if step.submit else _swallowed(built)


def _swallowed(call: Callable[[], Any]) -> Callable[[], None]:
    def called() -> None:
        try:
            call()
        except Exception:  # a failed task or subflow is in its history; the flow goes on
            return

    return called


def _cancel_itself(backend: Backend, then: Task[[], int] | None) -> None:
    context = current_flow_run()
    assert context is not None
    context.batcher.flush()  # every earlier record reaches the orchestrator before the cancel
    backend.cancel(context.flow_run_id)
    if then is not None:
        _swallowed(then)()


# --- running a spec on each backend ---------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """What one run of a spec left: the outcome, and the histories two ways."""

    outcome: str
    recorded: dict[Key, RunRecord]
    truth: dict[Key, RunRecord] | None = None


def _outcome(call: Callable[[], int]) -> str:
    try:
        return f"returned {call()}"
    except Exception as exc:  # the flow's failure or cancellation is part of what is compared
        return f"raised {type(exc).__name__}"


@contextmanager
def _runtime(orchestrator: Any) -> Iterator[RuntimeConfig]:
    with tempfile.TemporaryDirectory() as results:
        config = RuntimeConfig(
            orchestrator=orchestrator, results=LocalResultStore(Path(results)),
            batch_seconds=0.02, log_seconds=0.05, console=False, heartbeat_seconds=3600,
        )  # fmt: skip
        with use_runtime(config):
            yield config


Build = Callable[[Backend], Flow[[], int]]
"""Makes the flow to run on one backend (fresh tasks, counters and events for each)."""


def from_spec(spec: FlowSpec) -> Build:
    """The builder of a generated flow."""
    return lambda backend: _flow(spec, backend, "parity")


def run_offline(build: Build, salt: str) -> Recorded:
    """Run the flow against a fresh offline orchestrator."""
    local = LocalOrchestrator(wait_scale=FAST_WAITS)
    recorder = HistoryRecorder(local)
    backend = Backend(salt, recorder.cancel_flow_run)
    local.concurrency_limits[backend.tag] = 1
    with _runtime(recorder):
        outcome = _outcome(build(backend))
    flow_runs = [local.read_flow_run(run_id) for run_id in recorder.flow_run_ids]
    task_runs = list(local.task_runs.values())
    truth = histories(local.flow_runs.values(), task_runs, lambda i: _local_states(local, i))
    for run in [*flow_runs, *task_runs]:
        recorder.saw(run.id, run.version, run.state)
    assert local.slots.holders(backend.tag) == {}  # every slot taken was given back
    return Recorded(outcome, histories(flow_runs, task_runs, recorder.history), truth)


def _local_states(local: LocalOrchestrator, run_id: UUID) -> list[State]:
    return local.flow_run_states.get(run_id) or local.task_run_states[run_id]


def run_on_api(build: Build, salt: str, api: LiveApi) -> Recorded:
    """Run the flow against the real API over HTTP."""
    settings_ = ClientSettings(api_url=api.url, api_key=api.key)
    with StratoflowClient(settings_) as client:
        recorder = HistoryRecorder(client)
        backend = Backend(salt, recorder.cancel_flow_run)
        client.set_concurrency_limit(backend.tag, ConcurrencyLimitUpdate(limit=1))
        with _runtime(recorder):
            outcome = _outcome(build(backend))
        flow_runs = [client.read_flow_run(run_id) for run_id in recorder.flow_run_ids]
        task_runs = [task for run in flow_runs for task in all_task_runs(client, run.id)]
    for run in [*flow_runs, *task_runs]:
        recorder.saw(run.id, run.version, run.state)
    return Recorded(outcome, histories(flow_runs, task_runs, recorder.history))


# --- the property ---------------------------------------------------------------------------

task_steps = st.builds(
    TaskStep,
    fails=st.integers(0, 2),
    retries=st.integers(0, 1),
    tagged=st.sampled_from([False, False, False, True]),
    cache=st.sampled_from([None, None, "a", "b"]),
    submit=st.booleans(),
).map(lambda step: step if step.cache is None else TaskStep(**{**vars(step), "submit": False}))

subflows = st.builds(
    FlowSpec,
    steps=st.lists(task_steps, max_size=2).map(tuple),
    retries=st.integers(0, 1),
    fails=st.integers(0, 1),
)

root_flows = st.builds(
    FlowSpec,
    steps=st.lists(st.one_of(task_steps, task_steps, subflows), max_size=4).map(tuple),
    retries=st.integers(0, 1),
    fails=st.integers(0, 2),
    cancel=st.sampled_from([False, False, False, True]),
    tagged_after_cancel=st.booleans(),
)

RETRIES_CACHE_SUBFLOW = FlowSpec(
    steps=(
        TaskStep(fails=1, retries=1),
        TaskStep(cache="a"),
        TaskStep(cache="a"),
        FlowSpec(steps=(TaskStep(submit=True), TaskStep(fails=1, submit=True)), retries=1, fails=1),
    ),
    retries=1,
    fails=1,
)
TAG_CONTENTION = FlowSpec(
    steps=(
        TaskStep(tagged=True, submit=True),
        TaskStep(tagged=True, submit=True, fails=1, retries=1),
    )
)
CANCELLED = FlowSpec(
    steps=(TaskStep(submit=True), TaskStep(tagged=True)), cancel=True, tagged_after_cancel=True
)
FAILED_FOR_GOOD = FlowSpec(steps=(TaskStep(fails=2, retries=1), TaskStep(cache="b")), fails=1)


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=root_flows)
@example(spec=RETRIES_CACHE_SUBFLOW)
@example(spec=TAG_CONTENTION)
@example(spec=CANCELLED)
@example(spec=FAILED_FOR_GOOD)
def test_offline_and_api_runs_of_a_flow_give_the_same_state_histories(
    shared_api: LiveApi, spec: FlowSpec
) -> None:
    _same_histories(from_spec(spec), shared_api)


def _same_histories(build: Build, api: LiveApi) -> dict[Key, RunRecord]:
    salt = uuid4().hex[:12]
    offline = run_offline(build, salt)
    assert offline.recorded == offline.truth  # the rebuilding is exact where the truth is known
    recorded = run_on_api(build, salt, api)
    assert recorded.outcome == offline.outcome
    assert recorded.recorded == offline.truth
    return recorded.recorded


def test_task_runs_a_timed_out_attempt_left_open_are_closed_alike_offline_and_on_the_api(
    shared_api: LiveApi,
) -> None:
    """The first attempt times out inside a task: the orchestrator (not the engine) closes
    that task run CRASHED when the attempt ends, and the retry completes."""
    releases: list[threading.Event] = []

    def build(backend: Backend) -> Flow[[], int]:
        release = threading.Event()
        releases.append(release)
        attempts = itertools.count(1)

        def blocks() -> bool:
            return release.wait(30)

        def quick() -> int:
            return 1

        stuck, done = Task(blocks), Task(quick)

        def body() -> int:
            if next(attempts) == 1:
                stuck()
            return done()

        return Flow(body, name="times-out", retries=1, retry_delay_seconds=0, timeout_seconds=0.5)

    try:
        records = _same_histories(build, shared_api)
    finally:
        for release in releases:
            release.set()
    histories_by_end = sorted(
        [name for _, name in record.history] for key, record in records.items() if key[0] == "task"
    )
    assert histories_by_end == [
        ["Pending", "Running", "Completed"],
        ["Pending", "Running", "Crashed"],
    ]
    assert [name for _, name in records[("root",)].history] == [
        "Running", "AwaitingRetry", "Retrying", "Completed",
    ]  # fmt: skip
