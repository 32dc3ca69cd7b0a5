"""The run engine against the fake API: retries, timeouts, caching, mapping, subflows, logs."""

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
from stratoflow.runtime import RuntimeConfig
from stratoflow.schemas import StateType
from tests.sdk.fake_api import FakeApi


def _only_run(api: FakeApi, flow_name: str) -> Any:
    runs = [r for r in api.store.flow_runs.values() if r.flow_name == flow_name]
    assert len(runs) == 1
    return runs[0]


def _task_states(api: FakeApi, name: str) -> list[str]:
    (run,) = [t for t in api.store.task_runs.values() if t.name == name]
    return [s.name for s in api.store.task_run_states[run.id]]


def test_task_failing_twice_then_succeeding_with_two_retries_runs_three_times(
    api: FakeApi, runtime: RuntimeConfig
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
    assert _task_states(api, "flaky-0") == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Completed",
    ]  # fmt: skip
    (task_run,) = api.store.task_runs.values()
    assert task_run.run_count == 3


def test_retry_condition_false_stops_retrying(api: FakeApi, runtime: RuntimeConfig) -> None:
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
    assert _only_run(api, "condition-flow").state.type == StateType.FAILED


def test_task_over_its_timeout_ends_timed_out(api: FakeApi, runtime: RuntimeConfig) -> None:
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
    assert _task_states(api, "slow-0")[-1] == "TimedOut"
    assert _only_run(api, "timeout-flow").state.type == StateType.FAILED


def test_flow_over_its_timeout_ends_timed_out(api: FakeApi, runtime: RuntimeConfig) -> None:
    release = threading.Event()

    @flow(timeout_seconds=0.2)
    def slow_flow() -> None:
        release.wait(10)

    try:
        with pytest.raises(TimeoutError):
            slow_flow()
    finally:
        release.set()
    assert _only_run(api, "slow-flow").state.name == "TimedOut"


def test_cache_hit_on_second_flow_run_returns_stored_result_without_running(
    api: FakeApi, runtime: RuntimeConfig
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
    names = [t.name for t in api.store.task_runs.values()]
    states = [api.store.task_runs[t].state.name for t in api.store.task_runs]
    assert names == ["double-0", "double-0"]
    assert states == ["Completed", "Cached"]


def test_map_over_200_items_never_runs_more_than_task_concurrency(
    api: FakeApi, runtime: RuntimeConfig
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
    assert len(api.store.task_runs) == 200
    assert all(t.state.type == StateType.COMPLETED for t in api.store.task_runs.values())


def test_quick_tasks_are_recorded_in_batches_not_one_call_each(
    api: FakeApi, runtime: RuntimeConfig
) -> None:
    @task
    def noop(i: int) -> int:
        return i

    @flow
    def many_tasks() -> int:
        return sum(noop(i) for i in range(300))

    assert many_tasks() == sum(range(300))
    assert len(api.store.task_runs) == 300
    assert api.calls["POST /task-runs/batch"] <= 10
    assert api.calls["POST /task-runs/{id}/state"] == 0
    assert _task_states(api, "noop-7") == ["Pending", "Running", "Completed"]


def test_subflow_is_linked_to_a_task_run_of_its_parent(
    api: FakeApi, runtime: RuntimeConfig
) -> None:
    @flow
    def child(x: int) -> int:
        return x + 1

    @flow
    def parent() -> int:
        return child(1)

    assert parent() == 2
    parent_run, child_run = _only_run(api, "parent"), _only_run(api, "child")
    link = api.store.task_runs[child_run.parent_task_run_id]
    assert link.flow_run_id == parent_run.id
    assert link.subflow_run_id == child_run.id
    assert link.state.type == StateType.COMPLETED


def test_bad_parameter_fails_the_run_before_any_task_runs(
    api: FakeApi, runtime: RuntimeConfig
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
    run = _only_run(api, "typed")
    assert run.state.type == StateType.FAILED
    assert [s.type for s in api.store.flow_run_states[run.id]] == ["PENDING", "FAILED"]
    assert ran == []
    assert api.store.task_runs == {}


def test_parameters_are_coerced_from_type_hints(api: FakeApi, runtime: RuntimeConfig) -> None:
    @flow
    def add_one(n: int) -> int:
        return n + 1

    assert add_one("41") == 42  # type: ignore[arg-type]
    assert _only_run(api, "add-one").parameters == {"n": 41}


def test_logs_arrive_complete_and_in_order(api: FakeApi, runtime: RuntimeConfig) -> None:
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
    run = _only_run(api, "logging-flow")
    messages = [line.message for line in api.store.logs if line.flow_run_id == run.id]
    assert messages == [f"line {i}" for i in range(400)] + ["printed line", "task line 0"]
    assert api.store.logs[-1].task_run_id is not None


def test_failed_upstream_future_fails_downstream_without_running_it(
    api: FakeApi, runtime: RuntimeConfig
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
    assert _task_states(api, "downstream-0") == ["Pending", "Failed"]


def test_flow_retries_in_process_after_the_server_schedules_a_retry(
    api: FakeApi, runtime: RuntimeConfig
) -> None:
    attempts: list[int] = []

    @flow(retries=1, retry_delay_seconds=0)
    def second_time_lucky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return "ok"

    assert second_time_lucky() == "ok"
    run = _only_run(api, "second-time-lucky")
    names = [s.name for s in api.store.flow_run_states[run.id]]
    assert names == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]


def test_tag_concurrency_limit_wait_answers_are_obeyed(
    api: FakeApi, runtime: RuntimeConfig
) -> None:
    api.store.concurrency_limits["db"] = 1
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
    assert api.calls["POST /task-runs/{id}/state"] >= 12


def test_cancelling_flow_stops_starting_tasks_and_ends_cancelled(
    api: FakeApi, runtime: RuntimeConfig
) -> None:
    runtime.heartbeat_seconds = 0.05
    started: list[int] = []
    cancelled = threading.Event()

    @task
    def step(i: int) -> None:
        started.append(i)
        if i == 2:
            run_id = next(iter(api.store.flow_runs))
            api.store.cancel_flow_run(run_id)
            cancelled.set()

    @flow
    def long_flow() -> None:
        for i in range(1000):
            step(i)
            if cancelled.is_set():
                threading.Event().wait(0.01)

    with pytest.raises(Exception, match="cancel"):
        long_flow()
    run = _only_run(api, "long-flow")
    assert run.state.type == StateType.CANCELLED
    assert len(started) < 1000


def test_hooks_run_with_the_final_state(api: FakeApi, runtime: RuntimeConfig) -> None:
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
