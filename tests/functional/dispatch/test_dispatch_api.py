"""`POST /deployments/{id}/runs` starts a due push run at once, never fails for Step Functions,
and races with scheduler ticks without starting anything twice."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from typing import Any

from stratoflow_functions.api import ApiApp, ApiDeps
from stratoflow_functions.config import Settings
from stratoflow_functions.launchers.dispatcher import StepFunctionsDispatcher
from stratoflow_functions.local.moto_sfn_atomic import make_moto_sfn_atomic
from stratoflow_functions.store import Store
from tests.functional.dispatch.launch_support import (
    PASS_MACHINE,
    ROLE_ARN,
    deploy,
    executions,
    names_started,
    run_at,
)
from tests.support import ApiCaller, FakeClock, make_moto_dynamodb_atomic

RACE_RUNS = 12
DEADLINE_SECONDS = 60


def test_a_run_due_now_gets_its_execution_at_once(
    api: ApiCaller, clock: FakeClock, sfn: Any, launchers: dict[str, str]
) -> None:
    run_id = run_at(api, deploy(api, "ecs"))

    (started,) = executions(sfn, launchers["ecs"])
    assert started["name"] == run_id
    assert started["input"] == {"flow_run_id": run_id, "poll_seconds": 7}, "ids only, no secret"
    assert api.get(f"/flow-runs/{run_id}").body["state"]["type"] == "SCHEDULED"


def test_runs_not_pushed_or_not_due_wait(
    api: ApiCaller, clock: FakeClock, sfn: Any, launchers: dict[str, str]
) -> None:
    run_at(api, deploy(api, "local"))
    run_at(api, deploy(api, "kubernetes"))  # no launcher on this stack: a pull agent's
    run_at(api, deploy(api, "ecs", name="later"), clock() + timedelta(minutes=5))

    assert all(not executions(sfn, arn) for arn in launchers.values())


def test_a_failed_start_answers_201_and_the_next_tick_dispatches(
    store: Store, settings: Settings, clock: FakeClock, sfn: Any, api: ApiCaller, caplog: Any
) -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:stratoflow-ecs-late"
    late = dataclasses.replace(settings, ecs_launcher_arn=machine)  # not created yet
    dispatcher = StepFunctionsDispatcher(store, late, sfn)
    late_api = ApiCaller(ApiApp(ApiDeps(store, late, clock, run_dispatcher=dispatcher)), api.key)

    answer = late_api.post(f"/deployments/{deploy(api, 'ecs')}/runs", {})

    assert answer.status == 201
    run_id = answer.body["id"]
    assert answer.body["state"]["type"] == "SCHEDULED"
    assert f"flow run {run_id}: execution {run_id} not started" in caplog.text
    sfn.create_state_machine(name="stratoflow-ecs-late", definition=PASS_MACHINE, roleArn=ROLE_ARN)
    assert dispatcher.dispatch_due(clock()) == 1
    assert names_started(sfn, machine) == {run_id: 1}


def test_two_ticks_and_a_manual_run_at_once_start_each_run_once(
    api: ApiCaller,
    store: Store,
    settings: Settings,
    clock: FakeClock,
    sfn: Any,
    launchers: dict[str, str],
) -> None:
    make_moto_dynamodb_atomic()
    make_moto_sfn_atomic()
    deployment = deploy(api, "ecs")
    soon = clock() + timedelta(seconds=1)
    runs = [run_at(api, deployment, soon) for _ in range(RACE_RUNS - 1)]
    replayed = api.post(
        f"/deployments/{deployment}/runs",
        {"idempotency_key": "race", "scheduled_start_time": soon.isoformat()},
    ).body["id"]
    clock.advance(60)  # all of them due now, none started yet
    assert names_started(sfn, launchers["ecs"]) == {}
    roomy = dataclasses.replace(settings, dispatch_per_tick=100)
    ticks = [StepFunctionsDispatcher(store, roomy, sfn) for _ in range(2)]
    answers: dict[str, Any] = {}
    start = threading.Barrier(4)

    def tick(number: int) -> None:
        start.wait()
        answers[f"tick-{number}"] = ticks[number].dispatch_due(clock())

    def manual(key: str, body: dict[str, Any]) -> None:
        start.wait()
        answers[key] = api.post(f"/deployments/{deployment}/runs", body)

    threads = [
        threading.Thread(target=tick, args=(0,)),
        threading.Thread(target=tick, args=(1,)),
        threading.Thread(target=manual, args=("replay", {"idempotency_key": "race"})),
        threading.Thread(target=manual, args=("fresh", {})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS)

    assert set(answers) == {"tick-0", "tick-1", "replay", "fresh"}, "every thread answered"
    assert answers["replay"].status == 200
    assert answers["replay"].body["id"] == replayed
    assert answers["fresh"].status == 201
    fresh = answers["fresh"].body["id"]
    assert names_started(sfn, launchers["ecs"]) == dict.fromkeys([*runs, replayed, fresh], 1)
    # each run a tick alone could start is counted by a tick; two ticks in lockstep may both
    # count one (Step Functions answers both calls with the one execution): the count is a
    # metric, the execution's name is the guarantee
    assert all(0 <= answers[t] <= RACE_RUNS + 1 for t in ("tick-0", "tick-1"))
    assert answers["tick-0"] + answers["tick-1"] >= len(runs)
