"""The run engine, recorded by the offline orchestrator (and, where the calls it makes matter, by
the real API over HTTP): retries, timeouts, caching, mapping, subflows, logs, cancellation."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from stratoflow import (
    ParameterValidationError,
    TaskTimeoutError,
    UpstreamTaskError,
    flow,
    get_run_logger,
    task,
)
from stratoflow.client import StratoflowClient
from stratoflow.runtime import LocalOrchestrator, RuntimeConfig
from stratoflow.schemas import DecisionStatus, FlowRunFilter, StateType
from tests.sdk.support import CountingOrchestrator, CountingTransport, all_task_runs


def _only_run(local: LocalOrchestrator, flow_name: str) -> Any:
    runs = [r for r in local.flow_runs.values() if r.flow_name == flow_name]
    assert len(runs) == 1
    return runs[0]


def _task_states(local: LocalOrchestrator, name: str) -> list[str]:
    (run,) = [t for t in local.task_runs.values() if t.name == name]
    return [s.name for s in local.task_run_states[run.id]]


def test_task_failing_twice_then_succeeding_with_two_retries_runs_three_times(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    attempts: list[int] = []

    @task(retries=2, retry_delay_seconds=[0.01, 0.02])
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return "done"

    @flow
    def retrying_flow() -> str:
        return flaky()

    assert retrying_flow() == "done"
    assert len(attempts) == 3
    assert _task_states(local, "flaky-0") == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Completed",
    ]  # fmt: skip
    (task_run,) = local.task_runs.values()
    assert task_run.run_count == 3


def test_retry_condition_false_stops_retrying(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    calls: list[int] = []

    @task(retries=3, retry_condition_fn=lambda t, ctx, state: "retryable" in (state.message or ""))
    def fatal() -> None:
        calls.append(1)
        raise ValueError("fatal")

    @flow
    def condition_flow() -> None:
        fatal()

    with pytest.raises(ValueError, match="fatal"):
        condition_flow()
    assert calls == [1]
    assert _only_run(local, "condition-flow").state.type == StateType.FAILED


def test_task_over_its_timeout_ends_timed_out(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    release = threading.Event()

    @task(timeout_seconds=0.2)
    def slow() -> None:
        release.wait(10)

    @flow
    def timeout_flow() -> None:
        slow()

    try:
        with pytest.raises(TaskTimeoutError):
            timeout_flow()
    finally:
        release.set()
    assert _task_states(local, "slow-0")[-1] == "TimedOut"
    assert _only_run(local, "timeout-flow").state.type == StateType.FAILED


def test_flow_over_its_timeout_ends_timed_out(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    release = threading.Event()

    @flow(timeout_seconds=0.2)
    def slow_flow() -> None:
        release.wait(10)

    try:
        with pytest.raises(TimeoutError):
            slow_flow()
    finally:
        release.set()
    assert _only_run(local, "slow-flow").state.name == "TimedOut"


def test_cache_hit_on_second_flow_run_returns_stored_result_without_running(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    executions: list[str] = []

    @task(cache_key_fn=lambda ctx, args: f"double-{args['x']}", cache_expiration=timedelta(hours=1))
    def double(x: int) -> int:
        executions.append("ran")
        return x * 2

    @flow
    def cached_flow(x: int) -> int:
        return double(x)

    assert cached_flow(21) == 42
    assert cached_flow(21) == 42
    assert executions == ["ran"]
    names = [t.name for t in local.task_runs.values()]
    states = [local.task_runs[t].state.name for t in local.task_runs]
    assert names == ["double-0", "double-0"]
    assert states == ["Completed", "Cached"]


def test_map_over_200_items_never_runs_more_than_task_concurrency(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    lock = threading.Lock()
    running = {"now": 0, "max": 0}

    @task
    def square(x: int) -> int:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        threading.Event().wait(0.002)  # keep the slot long enough for others to overlap
        with lock:
            running["now"] -= 1
        return x * x

    @flow(task_concurrency=8)
    def mapped_flow() -> int:
        return sum(f.result() for f in square.map(range(200)))

    assert mapped_flow() == sum(x * x for x in range(200))
    assert 1 < running["max"] <= 8
    assert len(local.task_runs) == 200
    assert all(t.state.type == StateType.COMPLETED for t in local.task_runs.values())


def _many_tasks() -> int:
    @task
    def noop(i: int) -> int:
        return i

    @flow
    def many_tasks() -> int:
        return sum(noop(i) for i in range(300))

    return many_tasks()


def test_quick_tasks_are_recorded_in_batches_not_one_call_each_over_http(
    client: StratoflowClient, http: CountingTransport, api_runtime: RuntimeConfig
) -> None:
    assert _many_tasks() == sum(range(300))
    (run,) = [
        r for r in client.list_flow_runs(FlowRunFilter()).items if r.flow_name == "many-tasks"
    ]
    task_runs = all_task_runs(client, run.id)
    assert len(task_runs) == 300
    assert {(t.state.type, t.run_count) for t in task_runs} == {(StateType.COMPLETED, 1)}
    assert http.calls["POST /task-runs/batch"] <= 10
    assert http.calls["POST /task-runs/{id}/state"] == 0


def test_quick_tasks_are_recorded_in_batches_offline(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    counting = CountingOrchestrator(local)
    runtime.orchestrator = counting
    assert _many_tasks() == sum(range(300))
    assert len(local.task_runs) == 300
    assert counting.calls["create_task_runs_batch"] <= 10
    assert counting.calls["set_task_run_state"] == 0
    assert _task_states(local, "noop-7") == ["Pending", "Running", "Completed"]


def test_subflow_is_linked_to_a_task_run_of_its_parent(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    @flow
    def child(x: int) -> int:
        return x + 1

    @flow
    def parent() -> int:
        return child(1)

    assert parent() == 2
    parent_run, child_run = _only_run(local, "parent"), _only_run(local, "child")
    link = local.task_runs[child_run.parent_task_run_id]
    assert link.flow_run_id == parent_run.id
    assert link.subflow_run_id == child_run.id
    assert link.state.type == StateType.COMPLETED


def test_bad_parameter_fails_the_run_before_any_task_runs(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    ran: list[int] = []

    @task
    def work() -> None:
        ran.append(1)

    @flow
    def typed(count: int) -> None:
        work()

    with pytest.raises(ParameterValidationError, match="count"):
        typed("many")  # type: ignore[arg-type]
    run = _only_run(local, "typed")
    assert run.state.type == StateType.FAILED
    assert [s.type for s in local.flow_run_states[run.id]] == ["PENDING", "FAILED"]
    assert ran == []
    assert local.task_runs == {}


def test_parameters_are_coerced_from_type_hints(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    @flow
    def add_one(n: int) -> int:
        return n + 1

    assert add_one("41") == 42  # type: ignore[arg-type]
    assert _only_run(local, "add-one").parameters == {"n": 41}


def test_logs_arrive_complete_and_in_order(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    @task
    def chatty(i: int) -> None:
        get_run_logger().info("task line %d", i)

    @flow(log_prints=True)
    def logging_flow() -> None:
        for i in range(400):
            get_run_logger().info("line %d", i)
        print("printed line")
        chatty(0)

    logging_flow()
    run = _only_run(local, "logging-flow")
    lines = [line for line in local.logs if line.flow_run_id == run.id]
    messages = [line.message for line in lines]
    assert messages == [f"line {i}" for i in range(400)] + [
        "printed line",
        "task line 0",
        "Finished in state Completed()",  # the engine's own last line
    ]
    assert lines[-2].task_run_id is not None
    assert lines[-1].task_run_id is None


def test_failed_upstream_future_fails_downstream_without_running_it(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    ran: list[int] = []

    @task
    def broken() -> int:
        raise ValueError("broken")

    @task
    def downstream(x: int) -> int:
        ran.append(x)
        return x

    @flow
    def chain() -> int:
        return downstream.submit(broken.submit()).result()

    with pytest.raises(UpstreamTaskError):
        chain()
    assert ran == []
    assert _task_states(local, "downstream-0") == ["Pending", "Failed"]


def test_flow_retries_in_process_after_the_server_schedules_a_retry(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    attempts: list[int] = []

    @flow(retries=1, retry_delay_seconds=0)
    def second_time_lucky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return "ok"

    assert second_time_lucky() == "ok"
    run = _only_run(local, "second-time-lucky")
    names = [s.name for s in local.flow_run_states[run.id]]
    assert names == ["Running", "AwaitingRetry", "Retrying", "Completed"]


def test_tag_concurrency_limit_wait_answers_are_obeyed(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    local.concurrency_limits["db"] = 1
    counting = CountingOrchestrator(local)
    runtime.orchestrator = counting
    lock = threading.Lock()
    running = {"now": 0, "max": 0}

    @task(tags=["db"])
    def query(i: int) -> int:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        threading.Event().wait(0.01)
        with lock:
            running["now"] -= 1
        return i

    @flow(task_concurrency=4)
    def limited() -> list[int]:
        return [f.result() for f in query.map(range(6))]

    assert limited() == list(range(6))
    assert running["max"] == 1
    assert counting.answers[DecisionStatus.WAIT] >= 1
    assert counting.calls["set_task_run_state"] >= 12 + counting.answers[DecisionStatus.WAIT]
    assert local.slots.holders("db") == {}


def test_cancelling_flow_stops_starting_tasks_and_ends_cancelled(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    runtime.heartbeat_seconds = 0.05
    started: list[int] = []
    cancelled = threading.Event()

    @task
    def step(i: int) -> None:
        started.append(i)
        if i == 2:
            run_id = next(iter(local.flow_runs))
            local.cancel_flow_run(run_id)
            cancelled.set()

    @flow
    def long_flow() -> None:
        for i in range(1000):
            step(i)
            if cancelled.is_set():
                threading.Event().wait(0.01)

    with pytest.raises(Exception, match="cancel"):
        long_flow()
    run = _only_run(local, "long-flow")
    assert run.state.type == StateType.CANCELLED
    assert len(started) < 1000


def test_hooks_run_with_the_final_state(local: LocalOrchestrator, runtime: RuntimeConfig) -> None:
    seen: list[str] = []

    @task(on_failure=[lambda t, ctx, state: seen.append(f"task {state.name}")])
    def bad() -> None:
        raise ValueError("x")

    @flow(on_failure=[lambda f, run, state: seen.append(f"flow {state.name}")])
    def hooked() -> None:
        bad()

    with pytest.raises(ValueError, match="x"):
        hooked()
    assert seen == ["task Failed", "flow Failed"]


def test_flow_runs_offline_without_an_api() -> None:
    @task
    def inc(x: int) -> int:
        return x + 1

    @flow
    def offline(x: int) -> int:
        return inc.submit(x).result() + inc(x)

    assert offline(1) == 4


def test_offline_cache_survives_across_flow_runs() -> None:
    executions: list[int] = []

    @task(cache_key_fn=lambda ctx, args: f"offline-{args['x']}")
    def expensive(x: int) -> int:
        executions.append(x)
        return x

    @flow
    def offline_cached(x: int) -> int:
        return expensive(x)

    assert offline_cached(5) == 5
    assert offline_cached(5) == 5
    assert executions == [5]
