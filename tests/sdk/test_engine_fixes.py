"""Engine fixes, proven offline (the in-memory orchestrator) and against the real API handler.

Each test runs on both backends, so it also proves that the offline `LocalOrchestrator` answers
like the server: flow timeouts retried like failures, hooks for cancelled and cached tasks and
for a flow that failed parameter validation, cancellation learnt from batch and task-run ABORT
answers, SIGTERM of a cancelling run, and task-run batches retried after a lost answer.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from stratoflow import CancelledRunError, ParameterValidationError, flow, task
from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.exceptions import FlowTimeoutError, TerminationSignal
from stratoflow.runtime import RuntimeConfig, use_runtime
from stratoflow.runtime.context import current_flow_run
from stratoflow.runtime.local import LocalOrchestrator
from stratoflow.runtime.results import LocalResultStore
from stratoflow.schemas import FlowRun, StateType, TaskRun
from stratoflow_functions.local.transport import ApiTransport
from tests.support import in_process_api

SLOW_HEARTBEAT = 3600.0
"""Long enough that no test learns of a cancel from the heartbeat."""


@dataclass
class Backend:
    """Where the flows of a test are recorded, and how the test reads and cancels runs."""

    runtime: RuntimeConfig
    read: Callable[[UUID], FlowRun]
    cancel: Callable[[UUID], object]
    task_runs: Callable[[UUID], list[TaskRun]]


class LoseOneBatch(httpx.BaseTransport):
    """Fails the next `POST /task-runs/batch` once armed: before it is applied, or after (502)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.armed = False
        self.apply_first = False
        self.batches = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/task-runs/batch":
            return self.inner.handle_request(request)
        self.batches += 1
        if not self.armed:
            return self.inner.handle_request(request)
        self.armed = False
        if self.apply_first:
            self.inner.handle_request(request).read()
            return httpx.Response(502, json={"error": {"code": "bad_gateway", "message": "x"}})
        raise httpx.ReadError("connection reset before the answer")


def _runtime(orchestrator: Any, tmp_path: Path) -> RuntimeConfig:
    return RuntimeConfig(
        orchestrator=orchestrator, results=LocalResultStore(tmp_path / "results"),
        batch_seconds=0.02, log_seconds=0.05, console=False, heartbeat_seconds=SLOW_HEARTBEAT,
    )  # fmt: skip


def _offline(tmp_path: Path) -> Iterator[Backend]:
    local = LocalOrchestrator()

    def task_runs(flow_run_id: UUID) -> list[TaskRun]:
        return [t for t in local.task_runs.values() if t.flow_run_id == flow_run_id]

    with use_runtime(_runtime(local, tmp_path)) as runtime:
        yield Backend(runtime, local.read_flow_run, local.cancel_flow_run, task_runs)


def _real_api(tmp_path: Path) -> Iterator[Backend]:
    app, key = in_process_api("stratoflow-engine-fixes")
    transport = LoseOneBatch(ApiTransport(app))
    client_settings = ClientSettings(api_url="http://api.local", api_key=key)
    with (
        StratoflowClient(client_settings, transport=transport, sleep=lambda _: None) as client,
        use_runtime(_runtime(client, tmp_path)) as runtime,
    ):

        def task_runs(flow_run_id: UUID) -> list[TaskRun]:
            return list(client.list_task_runs(flow_run_id, limit=200).items)

        backend = Backend(runtime, client.read_flow_run, client.cancel_flow_run, task_runs)
        backend.transport = transport  # type: ignore[attr-defined]
        yield backend


@pytest.fixture(params=["offline", "api"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Every test runs offline and against the real API handler (moto DynamoDB)."""
    if request.param == "offline":
        yield from _offline(tmp_path)
    else:
        request.getfixturevalue("aws")
        yield from _real_api(tmp_path)


def _flow_run_id() -> UUID:
    context = current_flow_run()
    assert context is not None
    return context.flow_run_id


# --- 1. flow timeouts and flow retries -----------------------------------------------------------


def test_timed_out_flow_attempt_with_retries_left_is_retried_and_completes(
    backend: Backend,
) -> None:
    release = threading.Event()
    attempts: list[UUID] = []

    @flow(timeout_seconds=0.3, retries=1)
    def slow_then_quick() -> str:
        attempts.append(_flow_run_id())
        if len(attempts) == 1:
            release.wait(10)
        return "done"

    try:
        assert slow_then_quick() == "done"
    finally:
        release.set()
    run = backend.read(attempts[0])
    assert (run.state.type, run.run_count) == (StateType.COMPLETED, 2)


def test_flow_timing_out_on_its_last_attempt_ends_timed_out(backend: Backend) -> None:
    release = threading.Event()
    attempts: list[UUID] = []

    @flow(timeout_seconds=0.2, retries=1)
    def always_slow() -> None:
        attempts.append(_flow_run_id())
        release.wait(10)

    try:
        with pytest.raises(FlowTimeoutError):
            always_slow()
    finally:
        release.set()
    run = backend.read(attempts[0])
    assert (run.state.type, run.state.name, run.run_count) == (StateType.FAILED, "TimedOut", 2)


# --- 2. hooks -----------------------------------------------------------------------------------


def test_on_completion_runs_for_a_cache_hit(backend: Backend) -> None:
    seen: list[str] = []

    @task(
        cache_key_fn=lambda ctx, args: f"hooked-{args['x']}",
        cache_expiration=timedelta(hours=1),
        on_completion=[lambda t, ctx, state: seen.append(state.name)],
    )
    def cached(x: int) -> int:
        return x * 2

    @flow
    def twice(x: int) -> int:
        return cached(x)

    assert twice(3) == 6
    assert twice(3) == 6
    assert seen == ["Completed", "Cached"]


def test_flow_on_failure_runs_when_parameter_validation_fails(backend: Backend) -> None:
    seen: list[tuple[str, bool]] = []

    @flow(on_failure=[lambda f, run, state: seen.append((state.name, run is not None))])
    def typed(n: int) -> int:
        return n

    with pytest.raises(ParameterValidationError):
        typed("not a number")  # type: ignore[arg-type]
    assert seen == [("Failed", True)]


# --- 3, 4, 5. cancellation learnt from ABORT answers --------------------------------------------


def test_tagged_task_of_a_cancelled_flow_is_not_run_and_the_flow_ends_cancelled(
    backend: Backend,
) -> None:
    ran: list[str] = []
    hooks: list[str] = []
    ids: list[UUID] = []

    @task(tags=["db"], on_cancellation=[lambda t, ctx, state: hooks.append(state.name)])
    def tagged() -> None:
        ran.append("tagged")

    @flow
    def cancelled_before_tagged() -> None:
        ids.append(_flow_run_id())
        backend.cancel(ids[0])
        tagged()
        ran.append("after")

    with pytest.raises(CancelledRunError):
        cancelled_before_tagged()
    assert ran == []
    assert hooks == ["Cancelled"]
    assert backend.read(ids[0]).state.type == StateType.CANCELLED
    (task_run,) = backend.task_runs(ids[0])
    assert task_run.state.type == StateType.CANCELLED


def test_cached_task_of_a_cancelled_flow_is_not_run(backend: Backend) -> None:
    ran: list[int] = []
    ids: list[UUID] = []

    @task(cache_key_fn=lambda ctx, args: f"never-{args['x']}")
    def keyed(x: int) -> int:
        ran.append(x)
        return x

    @flow
    def cancelled_before_keyed() -> int:
        ids.append(_flow_run_id())
        backend.cancel(ids[0])
        return keyed(1)

    with pytest.raises(CancelledRunError):
        cancelled_before_keyed()
    assert ran == []
    assert backend.read(ids[0]).state.type == StateType.CANCELLED


def test_batched_tasks_stop_soon_after_a_cancel_seen_only_in_batch_answers(
    backend: Backend,
) -> None:
    started: list[int] = []
    ids: list[UUID] = []
    cancelled = threading.Event()

    @task
    def step(i: int) -> None:
        started.append(i)

    @flow
    def many_steps() -> None:
        ids.append(_flow_run_id())
        for i in range(300):
            if i == 3:
                backend.cancel(ids[0])
                cancelled.set()
            step(i)
            if cancelled.is_set():
                threading.Event().wait(0.01)  # 3 s in all if the cancel is never noticed

    with pytest.raises(CancelledRunError):
        many_steps()
    assert len(started) < 100
    assert backend.read(ids[0]).state.type == StateType.CANCELLED


def test_on_cancellation_hook_runs_for_a_task_cancelled_while_awaiting_a_retry(
    backend: Backend,
) -> None:
    hooks: list[str] = []
    ids: list[UUID] = []
    backend.runtime.heartbeat_seconds = 0.05  # an AwaitingRetry record is not refused

    @task(
        retries=1, retry_delay_seconds=30,
        on_cancellation=[lambda t, ctx, state: hooks.append(state.name)],
    )  # fmt: skip
    def fails_then_waits() -> None:
        backend.cancel(ids[0])
        raise RuntimeError("first attempt")

    @flow
    def cancelled_in_retry_wait() -> None:
        ids.append(_flow_run_id())
        fails_then_waits()

    with pytest.raises(CancelledRunError):
        cancelled_in_retry_wait()
    assert hooks == ["Cancelled"]
    assert backend.read(ids[0]).state.type == StateType.CANCELLED


# --- 6. SIGTERM of a cancelling run ---------------------------------------------------------------


def test_sigterm_while_the_run_is_cancelling_ends_cancelled(backend: Backend) -> None:
    ids: list[UUID] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:

        @flow
        def stopped_by_agent() -> None:
            ids.append(_flow_run_id())
            backend.cancel(ids[0])
            os.kill(os.getpid(), signal.SIGTERM)
            threading.Event().wait(10)

        with pytest.raises(TerminationSignal):
            stopped_by_agent()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert backend.read(ids[0]).state.type == StateType.CANCELLED


def test_sigterm_of_a_running_run_still_ends_crashed(backend: Backend) -> None:
    ids: list[UUID] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:

        @flow
        def killed() -> None:
            ids.append(_flow_run_id())
            os.kill(os.getpid(), signal.SIGTERM)
            threading.Event().wait(10)

        with pytest.raises(TerminationSignal):
            killed()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert backend.read(ids[0]).state.type == StateType.CRASHED


# --- batches retried --------------------------------------------------------------------------


@pytest.mark.parametrize("applied", [False, True], ids=["lost-before", "answer-lost"])
def test_task_run_batch_that_failed_in_transit_is_sent_again_and_nothing_is_lost(
    backend: Backend, applied: bool
) -> None:
    transport: LoseOneBatch | None = getattr(backend, "transport", None)
    if transport is not None:
        transport.armed, transport.apply_first = True, applied
    ids: list[UUID] = []

    @task
    def quick(i: int) -> int:
        return i

    @flow
    def records_everything() -> int:
        ids.append(_flow_run_id())
        return sum(f.result() for f in quick.map(range(20)))

    assert records_everything() == sum(range(20))
    runs = backend.task_runs(ids[0])
    assert len(runs) == 20
    assert {(r.state.type, r.run_count) for r in runs} == {(StateType.COMPLETED, 1)}
    assert transport is None or (not transport.armed and transport.batches >= 2)
