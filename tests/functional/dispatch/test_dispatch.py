"""The scheduler's push dispatcher over moto's Step Functions: what a tick starts, and how often."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import uuid4

from stratoflow.schemas import FlowRun, InfrastructureType, State, StateType
from stratoflow_functions.config import Settings
from stratoflow_functions.handlers.scheduler import handle
from stratoflow_functions.launchers.dispatcher import REDISPATCHES, StepFunctionsDispatcher
from stratoflow_functions.store import Store
from tests.functional.dispatch.launch_support import deploy, executions, names_started, run_at
from tests.support import ApiCaller, FakeClock


def test_a_tick_starts_due_runs_of_pushed_infrastructure_only(
    api: ApiCaller,
    clock: FakeClock,
    store: Store,
    settings: Settings,
    dispatcher: StepFunctionsDispatcher,
    sfn: Any,
    launchers: dict[str, str],
    capsys: Any,
) -> None:
    soon, later = clock() + timedelta(minutes=1), clock() + timedelta(days=1)
    due = {infra: run_at(api, deploy(api, infra), soon) for infra in ("ecs", "lambda")}
    others = [run_at(api, deploy(api, infra), soon) for infra in ("local", "docker", "kubernetes")]
    future = run_at(api, deploy(api, "ecs", name="later"), later)
    assert names_started(sfn, launchers["ecs"]) == {}, "nothing is due when they are created"
    clock.advance(120)

    report = handle(store, settings, clock(), dispatcher)

    assert report.dispatched == 2
    for infra, run_id in due.items():
        started = executions(sfn, launchers[infra])
        assert [e["name"] for e in started] == [run_id]
        assert started[0]["input"] == {"flow_run_id": run_id, "poll_seconds": 7}
    started_ids = {e["name"] for arn in launchers.values() for e in executions(sfn, arn)}
    assert started_ids.isdisjoint({*others, future})
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "{" in line]
    assert any(m.get("RunsDispatched") == [2] for m in metrics), "the tick's metric counts them"


def test_a_tick_is_bounded_and_the_next_looks_past_the_runs_already_started(
    api: ApiCaller,
    clock: FakeClock,
    dispatcher: StepFunctionsDispatcher,
    sfn: Any,
    launchers: dict[str, str],
) -> None:
    deployment = deploy(api, "ecs")
    runs = [run_at(api, deployment, clock() + timedelta(seconds=i + 1)) for i in range(7)]
    clock.advance(60)

    assert dispatcher.dispatch_due(clock()) == 5, "dispatch_per_tick is 5"
    assert set(names_started(sfn, launchers["ecs"])) == set(runs[:5]), "the oldest go first"
    assert dispatcher.dispatch_due(clock()) == 2
    assert dispatcher.dispatch_due(clock()) == 0, "a third tick starts nothing new"
    assert names_started(sfn, launchers["ecs"]) == dict.fromkeys(runs, 1)


def test_each_work_queue_gets_its_share_of_the_bound(
    api: ApiCaller,
    clock: FakeClock,
    dispatcher: StepFunctionsDispatcher,
    sfn: Any,
    launchers: dict[str, str],
) -> None:
    busy = deploy(api, "ecs", name="busy", work_queue="busy")
    quiet = deploy(api, "ecs", name="quiet", work_queue="quiet")
    for i in range(6):
        run_at(api, busy, clock() + timedelta(seconds=i + 1))
    quiet_run = run_at(api, quiet, clock() + timedelta(seconds=30))
    clock.advance(60)

    assert dispatcher.dispatch_due(clock()) == 4, "busy: ceil(5 / 2) = 3, quiet: 1"
    assert quiet_run in names_started(sfn, launchers["ecs"])


def test_a_resurrected_run_gets_a_fresh_execution_name(
    store: Store,
    clock: FakeClock,
    dispatcher: StepFunctionsDispatcher,
    sfn: Any,
    launchers: dict[str, str],
) -> None:
    store.work_queues.get_or_create("default", clock())
    run = FlowRun(
        id=uuid4(),
        name="again",
        flow_id=uuid4(),
        flow_name="etl",
        state=State(type=StateType.SCHEDULED, timestamp=clock(), scheduled_time=clock()),
        resurrections=1,
        work_queue="default",
        infrastructure=InfrastructureType.ECS,
        expected_start_time=clock(),
        created=clock(),
        updated=clock(),
    )
    store.flow_runs.create(run)

    assert dispatcher.dispatch_due(clock()) == 1
    assert names_started(sfn, launchers["ecs"]) == {f"{run.id}-r1": 1}


def test_a_run_whose_execution_ended_without_it_is_dispatched_again_under_the_next_name(
    api: ApiCaller,
    clock: FakeClock,
    dispatcher: StepFunctionsDispatcher,
    sfn: Any,
    launchers: dict[str, str],
) -> None:
    run_id = run_at(api, deploy(api, "ecs"), clock() + timedelta(seconds=1))
    clock.advance(60)
    assert dispatcher.dispatch_due(clock()) == 1
    (execution,) = executions(sfn, launchers["ecs"])
    sfn.stop_execution(executionArn=execution["executionArn"])  # ended, the run still SCHEDULED

    assert dispatcher.dispatch_due(clock()) == 1  # the next name
    assert dispatcher.dispatch_due(clock()) == 0  # that one is running: nothing new
    assert names_started(sfn, launchers["ecs"]) == {run_id: 1, f"{run_id}-d2": 1}


def test_redispatch_gives_up_after_its_bound_and_says_so(
    api: ApiCaller,
    clock: FakeClock,
    dispatcher: StepFunctionsDispatcher,
    sfn: Any,
    launchers: dict[str, str],
    caplog: Any,
) -> None:
    run_at(api, deploy(api, "ecs"), clock() + timedelta(seconds=1))
    clock.advance(60)
    for _ in range(REDISPATCHES + 1):
        assert dispatcher.dispatch_due(clock()) == 1
        (running,) = [e for e in executions(sfn, launchers["ecs"]) if e["status"] == "RUNNING"]
        sfn.stop_execution(executionArn=running["executionArn"])

    assert dispatcher.dispatch_due(clock()) == 0
    assert len(executions(sfn, launchers["ecs"])) == REDISPATCHES + 1
    assert "executions ended without it" in caplog.text


def test_a_stack_without_launchers_dispatches_nothing(
    api: ApiCaller, store: Store, clock: FakeClock, sfn: Any, launchers: dict[str, str]
) -> None:
    run_at(api, deploy(api, "local"), clock() + timedelta(seconds=1))
    clock.advance(60)
    nothing = StepFunctionsDispatcher(store, Settings(table_name="stratoflow-launch-test"), sfn)

    assert nothing.dispatch_due(clock()) == 0
    assert all(not executions(sfn, arn) for arn in launchers.values())
