"""The ECS agent against moto's ECS, in process: the real boto3 client, the SDK's builders.

moto's tasks never stop by themselves: a test stops one through StopTask, after setting the
exit code its flow container reports on moto's backend (what ECS would read from Docker).
Two agents on one queue of the live API (its emulator, moto's server, plays ECS over HTTP)
never run a run's task twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import boto3
import pytest

from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.infrastructure import FLOW_RUN_TAG
from stratoflow.schemas import (
    ClaimedRun,
    ClaimRequest,
    ClaimResponse,
    CodeImage,
    Deployment,
    DeploymentCreate,
    DeploymentRunCreate,
    FlowCreate,
    FlowRun,
    InfrastructureType,
    StateType,
    utcnow,
)
from stratoflow_agents import AgentConfig, LaunchError
from stratoflow_agents.ecs import AGENT_STARTED_BY, EcsAgent, EcsRunHandle
from stratoflow_functions.local.moto_ecs_tasks import make_moto_ecs_task_memory_optional
from tests.agents.agent_support import FakeClient, FakeClock, flow_run, run_until
from tests.agents.live_support import contend
from tests.fixtures.live_api import LiveApi

REGION = "us-east-1"
ACCOUNT = "123456789012"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stratoflow-api-key"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/flow-task-execution"
API_URL = "https://api.example.test"
API_KEY = "sf_agent-own-key-never-in-a-task"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto's ECS with a cluster and an awsvpc network (DNS hostnames on, a security group)."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        make_moto_ecs_task_memory_optional()
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="runs", Description="runs", VpcId=vpc)
        ecs = boto3.client("ecs", region_name=REGION)
        cluster = ecs.create_cluster(clusterName="flows")["cluster"]["clusterArn"]
        yield {"cluster": cluster, "subnet": subnet, "group": group["GroupId"]}


class ClaimingClient(FakeClient):
    """The fake API, its claims carrying the run's deployment (as the server's do)."""

    def __init__(self, clock: FakeClock, deployment: Deployment) -> None:
        super().__init__(clock)
        self.deployment = deployment

    def claim_runs(self, name: str, body: ClaimRequest) -> ClaimResponse:
        answer = super().claim_runs(name, body)
        runs = [ClaimedRun(flow_run=c.flow_run, deployment=self.deployment) for c in answer.runs]
        return ClaimResponse(runs=runs)


def deployment(**overrides: Any) -> Deployment:
    now = utcnow()
    return Deployment(
        id=uuid4(), flow_id=uuid4(), flow_name="etl", name="nightly", entrypoint="etl.py:etl",
        infrastructure=InfrastructureType.ECS, infra_overrides=overrides, created=now,
        updated=now,
    )  # fmt: skip


def run_of(dep: Deployment, state: StateType = StateType.PENDING) -> FlowRun:
    return flow_run(state).model_copy(update={"deployment_id": dep.id, "flow_id": dep.flow_id})


def make_agent(
    net: dict[str, str], client: FakeClient, clock: FakeClock, **options: Any
) -> EcsAgent:
    config = AgentConfig(
        work_queue="q", poll_interval=1.0, backoff_max=2.0, backoff_jitter=0.0,
        cancel_check_interval=1.0, watch_interval=1.0, cancel_grace=5.0,
    )  # fmt: skip
    return EcsAgent(
        config, client, ClientSettings(api_url=API_URL, api_key=API_KEY),
        cluster=net["cluster"], subnets=[net["subnet"]], security_groups=[net["group"]],
        execution_role_arn=ROLE, api_key_secret_arn=SECRET,
        ecs=boto3.client("ecs", region_name=REGION), clock=clock, sleep=clock.sleep,
        rand=lambda: 0.0, **{"describe_interval": 0.0, **options},
    )  # fmt: skip


def calls_of(agent: EcsAgent) -> list[str]:
    """The ECS operations the agent's client calls, in order (botocore's own event hook)."""
    calls: list[str] = []
    agent.ecs.meta.events.register("before-call.ecs.*", lambda model, **_: calls.append(model.name))
    return calls


def finish_task(
    cluster: str, task_arn: str, exit_code: int, reason: str = "Essential container exited"
) -> None:
    """Give the task's flow container `exit_code` on moto's backend, then stop the task."""
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[ACCOUNT][REGION]
    task = next(
        t for tasks in backend.tasks.values() for arn, t in tasks.items() if arn == task_arn
    )
    for container in task.containers:
        container.exitCode = exit_code
    boto3.client("ecs", region_name=REGION).stop_task(cluster=cluster, task=task_arn, reason=reason)


def described(cluster: str, task_arn: str) -> dict[str, Any]:
    ecs = boto3.client("ecs", region_name=REGION)
    task: dict[str, Any] = ecs.describe_tasks(cluster=cluster, tasks=[task_arn], include=["TAGS"])[
        "tasks"
    ][0]
    return task


def test_two_runs_of_one_deployment_register_one_definition_and_run_with_the_right_overrides(
    aws: dict[str, str],
) -> None:
    clock = FakeClock()
    dep = deployment(env={"STAGE": "prod"}, cpu=512, memory=1024)
    agent = make_agent(aws, FakeClient(clock), clock)
    calls = calls_of(agent)
    first, second = run_of(dep), run_of(dep)

    handles = [agent.launch(ClaimedRun(flow_run=r, deployment=dep)) for r in (first, second)]

    assert calls.count("RegisterTaskDefinition") == 1
    assert calls.count("RunTask") == 2
    ecs = agent.ecs
    families = ecs.list_task_definition_families(familyPrefix="stratoflow-")["families"]
    assert len(families) == 1
    definition = ecs.describe_task_definition(taskDefinition=families[0])["taskDefinition"]
    container = definition["containerDefinitions"][0]
    assert container["secrets"] == [{"name": "STRATOFLOW_API_KEY", "valueFrom": SECRET}]
    assert definition["executionRoleArn"] == ROLE
    for run, handle in zip((first, second), handles, strict=True):
        task = described(aws["cluster"], handle.infrastructure_id)
        assert task["startedBy"] == AGENT_STARTED_BY
        assert {"key": FLOW_RUN_TAG, "value": str(run.id)} in task["tags"]
        override = task["overrides"]["containerOverrides"][0]
        assert override["command"] == ["stratoflow", "execute", str(run.id)]
        env = {e["name"]: e["value"] for e in override["environment"]}
        assert env == {
            "STRATOFLOW_API_URL": API_URL, "STRATOFLOW_FLOW_RUN_ID": str(run.id), "STAGE": "prod",
        }  # fmt: skip
        assert API_KEY not in repr(task)  # the key goes by reference only
        network = task["attachments"][0]["details"]
        assert {"name": "subnetId", "value": aws["subnet"]} in network


def test_a_second_agent_finds_the_definition_instead_of_registering_it_again(
    aws: dict[str, str],
) -> None:
    clock = FakeClock()
    dep = deployment()
    make_agent(aws, FakeClient(clock), clock).launch(
        ClaimedRun(flow_run=run_of(dep), deployment=dep)
    )
    later = make_agent(aws, FakeClient(clock), clock)
    calls = calls_of(later)

    later.launch(ClaimedRun(flow_run=run_of(dep), deployment=dep))

    assert calls[:2] == ["DescribeTaskDefinition", "RunTask"]


def test_a_bad_setting_or_a_missing_deployment_fails_the_launch_naming_it(
    aws: dict[str, str],
) -> None:
    clock = FakeClock()
    agent = make_agent(aws, FakeClient(clock), clock)
    bad = deployment(cpu=300)

    with pytest.raises(LaunchError, match="cpu: Fargate accepts"):
        agent.launch(ClaimedRun(flow_run=run_of(bad), deployment=bad))
    with pytest.raises(LaunchError, match="no deployment"):
        agent.launch(ClaimedRun(flow_run=flow_run()))


def test_a_stopped_task_gives_its_exit_code_and_the_run_crashes_with_the_reason(
    aws: dict[str, str],
) -> None:
    clock = FakeClock()
    dep = deployment()
    client = ClaimingClient(clock, dep)
    run = run_of(dep)
    client.claims = [[run]]
    agent = make_agent(aws, client, clock)
    run_until(agent, clock, lambda: run.id in agent.active, limit=5)
    handle = agent.active[run.id].handle
    assert handle.poll() is None  # running

    finish_task(aws["cluster"], handle.infrastructure_id, 3)
    assert handle.poll() == 3
    run_until(agent, clock, lambda: run.id not in agent.active, limit=5)

    state = client.state_of(run.id)
    assert state.type is StateType.CRASHED
    assert state.message is not None
    assert "exited with code 3" in state.message
    assert "Essential container exited" in state.message


def test_an_image_pull_error_is_the_failure_detail(aws: dict[str, str]) -> None:
    clock = FakeClock()
    dep = deployment()
    handle = make_agent(aws, FakeClient(clock), clock).launch(
        ClaimedRun(flow_run=run_of(dep), deployment=dep)
    )

    finish_task(
        aws["cluster"], handle.infrastructure_id, 0,
        reason="CannotPullContainerError: pull image manifest has been retried 1 time(s)",
    )  # fmt: skip

    assert handle.poll() == 0  # moto's containers always have a code; ECS's would not
    detail = handle.failure_detail()
    assert detail is not None
    assert detail.startswith("the image could not be pulled: CannotPullContainerError")


def test_a_task_is_described_at_most_once_per_interval(aws: dict[str, str]) -> None:
    clock = FakeClock()
    dep = deployment()
    agent = make_agent(aws, FakeClient(clock), clock, describe_interval=5.0)
    handle = agent.launch(ClaimedRun(flow_run=run_of(dep), deployment=dep))
    calls = calls_of(agent)

    assert handle.poll() is None
    finish_task(aws["cluster"], handle.infrastructure_id, 2)
    assert handle.poll() is None  # too soon to ask ECS again
    clock.now += 5.0

    assert handle.poll() == 2
    assert calls.count("DescribeTasks") == 2


def test_an_oom_killed_container_is_named(aws: dict[str, str]) -> None:
    clock = FakeClock()
    dep = deployment()
    handle = make_agent(aws, FakeClient(clock), clock).launch(
        ClaimedRun(flow_run=run_of(dep), deployment=dep)
    )
    finish_task(aws["cluster"], handle.infrastructure_id, 137)

    assert handle.poll() == 137
    assert (handle.failure_detail() or "").startswith("out of memory")


def test_cancel_stops_the_task_and_the_run_is_cancelled(aws: dict[str, str]) -> None:
    clock = FakeClock()
    dep = deployment()
    client = ClaimingClient(clock, dep)
    run = run_of(dep)
    client.claims = [[run]]
    agent = make_agent(aws, client, clock)
    calls = calls_of(agent)
    run_until(agent, clock, lambda: run.id in agent.active, limit=5)
    task_arn = agent.active[run.id].handle.infrastructure_id

    client.move(run.id, client.state_of(run.id).model_copy(update={"type": StateType.CANCELLING}))
    run_until(agent, clock, lambda: run.id not in agent.active, limit=10)

    assert "StopTask" in calls
    assert described(aws["cluster"], task_arn)["lastStatus"] == "STOPPED"
    assert client.state_of(run.id).type is StateType.CANCELLED


def test_stopping_a_task_ecs_no_longer_knows_counts_as_done() -> None:
    # moto raises a bare Exception for an unknown task; ECS answers these (botocore's Stubber
    # checks them against the service model).
    from botocore.stub import Stubber

    ecs = boto3.client("ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    task_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/flows/{uuid4().hex}"
    gone = EcsRunHandle(ecs, "flows", task_arn)
    with Stubber(ecs) as stub:
        for _ in range(2):
            stub.add_client_error(
                "stop_task", "InvalidParameterException", "The referenced task was not found."
            )
        stub.add_response(
            "describe_tasks", {"tasks": [], "failures": [{"arn": task_arn, "reason": "MISSING"}]}
        )

        gone.terminate()  # no error
        gone.kill()
        assert gone.poll() == 1
        stub.assert_no_pending_responses()

    assert "no longer knows" in (gone.failure_detail() or "")


def test_a_restarted_agent_finds_its_running_task_by_the_run_id_tag(aws: dict[str, str]) -> None:
    clock = FakeClock()
    dep = deployment()
    client = ClaimingClient(clock, dep)
    running, ended = run_of(dep), run_of(dep)
    client.claims = [[running, ended]]
    first = make_agent(aws, client, clock)
    run_until(first, clock, lambda: len(first.active) == 2, limit=5)
    task_arn = first.active[running.id].handle.infrastructure_id
    other_task = first.active[ended.id].handle.infrastructure_id
    client.move(
        running.id, client.state_of(running.id).model_copy(update={"type": StateType.RUNNING})
    )

    second = make_agent(aws, client, clock)  # the first one died without a word
    found = second.recover()

    assert set(found) == {running.id, ended.id}
    assert found[running.id].infrastructure_id == task_arn
    finish_task(aws["cluster"], other_task, 0)  # this one ended while no agent watched
    second.adopt(second.recover())
    assert set(second.active) == {running.id, ended.id}
    assert second.active[running.id].handle.poll() is None
    assert second.active[ended.id].handle.poll() == 0


def test_tasks_of_other_starters_are_not_recovered(aws: dict[str, str]) -> None:
    clock = FakeClock()
    dep = deployment()
    agent = make_agent(aws, FakeClient(clock), clock, started_by="stratoflow-agent-blue")
    agent.launch(ClaimedRun(flow_run=run_of(dep), deployment=dep))

    assert make_agent(aws, FakeClient(clock), clock).recover() == {}
    assert len(agent.recover()) == 1


# --- two agents on one queue of the live API ------------------------------------------------


def emulated(live_api: LiveApi, service: str) -> Any:
    """A boto3 client of the live API's emulator (moto's server, in this process)."""
    return boto3.client(
        service, region_name=REGION, endpoint_url=live_api.settings.aws_endpoint_url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


@pytest.mark.slow
def test_two_agents_on_one_queue_never_run_a_run_s_task_twice(
    live_api: LiveApi, client: StratoflowClient, home: Path
) -> None:
    from moto.ecs.models import ecs_backends

    make_moto_ecs_task_memory_optional()
    ec2 = emulated(live_api, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="runs", Description="runs", VpcId=vpc)["GroupId"]
    cluster_name = f"flows-{uuid4().hex[:8]}"
    cluster = emulated(live_api, "ecs").create_cluster(clusterName=cluster_name)["cluster"]
    queue = f"ecs-{uuid4().hex[:8]}"
    flow = client.create_flow(FlowCreate(name=f"flow-{uuid4().hex[:6]}"))
    dep = client.create_deployment(
        DeploymentCreate(
            flow_id=flow.id, name=f"test-{queue}", entrypoint="etl.py:etl", work_queue=queue,
            code=CodeImage(image="registry.example/etl:1"), infrastructure=InfrastructureType.ECS,
        )
    )  # fmt: skip
    runs = [client.create_deployment_run(dep.id, DeploymentRunCreate()).id for _ in range(12)]
    run_tasks: list[list[UUID]] = []  # per agent: the run of every RunTask it called

    def make_agent(own: StratoflowClient, config: AgentConfig) -> EcsAgent:
        ecs, calls = emulated(live_api, "ecs"), []
        ecs.meta.events.register(
            "before-parameter-build.ecs.RunTask",
            lambda params, **_: calls.append(UUID(tag_of(params))),
        )  # fmt: skip
        run_tasks.append(calls)
        return EcsAgent(
            config, own, own.settings, cluster=cluster["clusterArn"], subnets=[subnet],
            security_groups=[group], execution_role_arn=ROLE, api_key_secret_arn=SECRET, ecs=ecs,
            describe_interval=0.0,
        )  # fmt: skip

    backend = ecs_backends[ACCOUNT][REGION]
    stopper = emulated(live_api, "ecs")

    def end_started() -> None:  # each running task's flow container exits 0
        for arn, task in list(backend.tasks.get(cluster_name, {}).items()):
            if task.desired_status != "STOPPED":
                for container in task.containers:
                    container.exitCode = 0
                stopper.stop_task(
                    cluster=cluster_name, task=arn, reason="Essential container exited"
                )

    def launched() -> list[UUID]:
        return [run for calls in run_tasks for run in list(calls)]

    held = contend(make_agent, client, home, queue, runs, end_started, launched)

    assert sorted(launched()) == sorted(runs)  # each exactly once
    assert all(run_tasks), "an agent ran no task"
    assert not held[0] & held[1]  # both agents launched runs, never the same one
    tagged = [tag_of(t) for t in backend.tasks[cluster_name].values()]
    assert sorted(tagged) == sorted(map(str, runs))  # one task per run in ECS too


def tag_of(task: Any) -> str:
    """The run id tag of a RunTask request or of moto's task."""
    tags = task["tags"] if isinstance(task, dict) else task.tags
    return next(t["value"] for t in tags if t["key"] == FLOW_RUN_TAG)
