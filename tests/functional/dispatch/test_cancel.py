"""Cancelling a pushed run stops what runs it (moto ECS and Step Functions); nothing about the
stop ever fails the cancel."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest
from botocore.stub import Stubber

from stratoflow.schemas import FlowRun, InfrastructureType, State, StateType
from stratoflow_functions.config import Settings
from stratoflow_functions.launchers.cancel import PushCanceller, StopOutcome, cluster_of
from stratoflow_functions.store import Store
from tests.functional.dispatch.launch_support import executions
from tests.support import ApiCaller, FakeClock


def running_run(
    store: Store,
    clock: FakeClock,
    infrastructure: InfrastructureType = InfrastructureType.ECS,
    infrastructure_id: str | None = None,
    state: StateType = StateType.RUNNING,
) -> FlowRun:
    run = FlowRun(
        id=uuid4(),
        name="long-one",
        flow_id=uuid4(),
        flow_name="etl",
        state=State(type=state, timestamp=clock()),
        run_count=1,
        work_queue="default",
        infrastructure=infrastructure,
        infrastructure_id=infrastructure_id,
        heartbeat=clock(),
        created=clock(),
        updated=clock(),
    )
    store.flow_runs.create(run)
    return run


def fargate_task(ecs: Any) -> str:
    """A Fargate task on cluster `stratoflow` in moto; its ARN.

    Bridge networking: moto 5.2's awsvpc path fails on its own ENI model (no
    `private_dns_name`), and the network mode plays no part in stopping a task.
    """
    ecs.create_cluster(clusterName="stratoflow")
    ecs.register_task_definition(
        family="stratoflow-flow",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "flow", "image": "stratoflow/runtime", "memory": 512}],
    )
    tasks = ecs.run_task(
        cluster="stratoflow", taskDefinition="stratoflow-flow", launchType="FARGATE"
    )
    return str(tasks["tasks"][0]["taskArn"])


def test_cancelling_a_launched_ecs_run_stops_its_task(
    api: ApiCaller, store: Store, clock: FakeClock, ecs: Any
) -> None:
    task = fargate_task(ecs)
    run = running_run(store, clock, infrastructure_id=task)

    answer = api.post(f"/flow-runs/{run.id}/cancel")

    assert answer.status == 200
    assert answer.body["state"]["type"] == "CANCELLING", "the launcher's settle step ends it"
    (stopped,) = ecs.describe_tasks(cluster="stratoflow", tasks=[task])["tasks"]
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == "Cancelled by request"


def test_cancelling_an_ecs_run_with_no_task_recorded_stops_its_execution(
    api: ApiCaller, store: Store, clock: FakeClock, sfn: Any, launchers: dict[str, str]
) -> None:
    run = running_run(store, clock)
    payload = json.dumps({"flow_run_id": str(run.id), "poll_seconds": 7})
    sfn.start_execution(stateMachineArn=launchers["ecs"], name=str(run.id), input=payload)

    answer = api.post(f"/flow-runs/{run.id}/cancel")

    assert answer.status == 200
    (execution,) = executions(sfn, launchers["ecs"])
    assert execution["status"] == "ABORTED"
    assert answer.body["state"]["type"] == "CANCELLED", "nothing is left to settle it"
    assert api.get(f"/flow-runs/{run.id}").body["state"]["type"] == "CANCELLED"


def test_cancelling_stops_the_execution_the_launcher_recorded_on_its_claim(
    api: ApiCaller, store: Store, clock: FakeClock, sfn: Any, launchers: dict[str, str]
) -> None:
    payload = json.dumps({"flow_run_id": "x", "poll_seconds": 7})
    other = sfn.start_execution(stateMachineArn=launchers["ecs"], name="d2-name", input=payload)
    run = running_run(store, clock, infrastructure_id=other["executionArn"])

    answer = api.post(f"/flow-runs/{run.id}/cancel")

    assert answer.body["state"]["type"] == "CANCELLED"
    (execution,) = executions(sfn, launchers["ecs"])
    assert (execution["name"], execution["status"]) == ("d2-name", "ABORTED")


def test_asking_again_retries_the_stop(
    api: ApiCaller, store: Store, clock: FakeClock, ecs: Any
) -> None:
    task = fargate_task(ecs)
    run = running_run(store, clock, infrastructure_id=task, state=StateType.CANCELLING)

    answer = api.post(f"/flow-runs/{run.id}/cancel")

    assert answer.status == 200
    (stopped,) = ecs.describe_tasks(cluster="stratoflow", tasks=[task])["tasks"]
    assert stopped["lastStatus"] == "STOPPED"


def test_an_execution_that_does_not_exist_counts_as_stopped(
    api: ApiCaller, store: Store, clock: FakeClock, canceller: PushCanceller
) -> None:
    run = running_run(store, clock)

    assert canceller.stop(run) is StopOutcome.GONE
    assert api.post(f"/flow-runs/{run.id}/cancel").status == 200


TASK = "arn:aws:ecs:us-east-1:123456789012:task/stratoflow/0123456789abcdef"


@pytest.mark.parametrize(
    ("code", "message", "outcome"),
    [
        ("InvalidParameterException", "The referenced task was not found.", StopOutcome.GONE),
        ("ClusterNotFoundException", "Cluster not found.", StopOutcome.GONE),
        ("AccessDeniedException", "not authorized to perform ecs:StopTask", StopOutcome.FAILED),
        ("ThrottlingException", "Rate exceeded", StopOutcome.FAILED),
    ],
)
def test_stop_task_errors_never_fail_the_cancel(
    api: ApiCaller,
    store: Store,
    clock: FakeClock,
    settings: Settings,
    ecs: Any,
    code: str,
    message: str,
    outcome: StopOutcome,
    caplog: Any,
) -> None:
    run = running_run(store, clock, infrastructure_id=TASK)
    with Stubber(ecs) as stub:
        stub.add_client_error("stop_task", code, message)
        assert PushCanceller(settings, ecs=ecs).stop(run) is outcome
        stub.add_client_error("stop_task", code, message)
        answer = api.post(f"/flow-runs/{run.id}/cancel")  # the API's canceller shares `ecs`
        stub.assert_no_pending_responses()
    assert answer.status == 200
    assert answer.body["state"]["type"] == "CANCELLING"
    if outcome is StopOutcome.FAILED:
        assert f"flow run {run.id}: could not stop its infrastructure ({code})" in caplog.text


@pytest.mark.parametrize(
    "infrastructure",
    [InfrastructureType.KUBERNETES, InfrastructureType.VERTEX, InfrastructureType.LAMBDA],
)
def test_other_push_runs_are_left_to_their_poll_loop_or_engine(
    api: ApiCaller,
    store: Store,
    clock: FakeClock,
    sfn: Any,
    launchers: dict[str, str],
    canceller: PushCanceller,
    infrastructure: InfrastructureType,
    caplog: Any,
) -> None:
    run = running_run(store, clock, infrastructure, infrastructure_id="stratoflow-job")
    sfn.start_execution(stateMachineArn=launchers["lambda"], name=str(run.id))

    assert canceller.stop(run) is StopOutcome.NOTHING_TO_DO
    answer = api.post(f"/flow-runs/{run.id}/cancel")

    assert answer.status == 200
    assert answer.body["state"]["type"] == "CANCELLING"
    assert [e["status"] for e in executions(sfn, launchers["lambda"])] == ["RUNNING"]
    assert "could not stop" not in caplog.text


def test_a_run_not_started_is_cancelled_without_stopping_anything(
    api: ApiCaller, store: Store, clock: FakeClock, sfn: Any, launchers: dict[str, str]
) -> None:
    run = running_run(store, clock, state=StateType.SCHEDULED)
    sfn.start_execution(stateMachineArn=launchers["ecs"], name=str(run.id))

    answer = api.post(f"/flow-runs/{run.id}/cancel")

    assert answer.body["state"]["type"] == "CANCELLED"
    # its execution's next claim finds the run gone and ends quietly
    assert [e["status"] for e in executions(sfn, launchers["ecs"])] == ["RUNNING"]


def test_short_task_arns_use_the_configured_cluster(
    settings: Settings, store: Store, clock: FakeClock, ecs: Any
) -> None:
    short = "arn:aws:ecs:us-east-1:123456789012:task/0123456789abcdef"
    assert cluster_of(TASK) == "stratoflow"
    assert cluster_of(short) is None
    cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/flows"
    canceller = PushCanceller(
        Settings(ecs_launcher_arn=settings.ecs_launcher_arn, ecs_cluster_arn=cluster), ecs=ecs
    )
    run = running_run(store, clock, infrastructure_id=short)
    with Stubber(ecs) as stub:
        expected = {"cluster": cluster, "task": short, "reason": "Cancelled by request"}
        stub.add_response("stop_task", {"task": {"taskArn": short}}, expected)
        assert canceller.stop(run) is StopOutcome.TASK_STOPPED
        stub.assert_no_pending_responses()
