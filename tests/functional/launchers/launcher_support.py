"""A launcher world for the state-machine tests: moto with Step Functions executing, the
emulator fixes installed, the stack's table, an ECS cluster in a VPC, the launcher Lambda
registered in process (moto_lambda) and the launcher state machines created from the committed
definition files."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import boto3

from stratoflow.schemas import FlowRun, InfrastructureType, State, StateProposal, StateType, utcnow
from stratoflow_functions.api import ApiApp, ApiDeps
from stratoflow_functions.config import Settings
from stratoflow_functions.handlers.launcher import handle
from stratoflow_functions.launchers.asl import definition_path
from stratoflow_functions.launchers.backends import BackendFactory, JobBackend, JobStatus
from stratoflow_functions.launchers.context import LauncherContext
from stratoflow_functions.local.moto_lambda import register_local_function
from stratoflow_functions.services.flow_run_states import propose_flow_run_state
from stratoflow_functions.store import Store
from tests.support import ApiCaller

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/launcher"
DEADLINE_SECONDS = 30.0


def wait_for(what: str, probe: Callable[[], Any], deadline: float = DEADLINE_SECONDS) -> Any:
    """Poll `probe` until it answers something truthy; fail naming `what` at the deadline."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def zipped_code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


@dataclass
class MemoryBackend:
    """An in-memory JobBackend: jobs by id, their status set by the test."""

    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, JobStatus] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)

    def launch(self, spec: dict[str, Any]) -> str:
        job_id = str(spec.get("metadata", {}).get("name") or spec["displayName"])
        self.jobs.setdefault(job_id, spec)
        self.statuses.setdefault(job_id, JobStatus(finished=False))
        return job_id

    def status(self, infrastructure_id: str) -> JobStatus:
        return self.statuses[infrastructure_id]

    def stop(self, infrastructure_id: str) -> None:
        self.stopped.append(infrastructure_id)
        self.statuses[infrastructure_id] = JobStatus(finished=True, succeeded=False)

    def factory(self) -> BackendFactory:
        def build(infra: InfrastructureType, settings: Settings, infra_settings: Any) -> JobBackend:
            return self

        return build


class World:
    """The stack's pieces the launchers touch, all in moto."""

    def __init__(self, settings: Settings, store: Store, api: ApiCaller) -> None:
        self.settings = settings
        self.store = store
        self.api = api
        self.ecs = boto3.client("ecs", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.awslambda = boto3.client("lambda", region_name=REGION)
        self.backend = MemoryBackend()

    def context(self, infrastructure: InfrastructureType) -> LauncherContext:
        return LauncherContext(
            store=self.store,
            settings=self.settings,
            infrastructure=infrastructure,
            ecs=self.ecs,
            backends=self.backend.factory(),
        )

    def function(self, name: str, handler: Callable[[Any, Any], Any], timeout: int = 30) -> str:
        arn = self.awslambda.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="handler.handler",
            Code={"ZipFile": zipped_code()},
            Timeout=timeout,
        )["FunctionArn"]
        register_local_function(arn, handler)
        return str(arn)

    def machine(self, infrastructure: InfrastructureType, runner_arn: str | None = None) -> str:
        """Create the launcher machine of `infrastructure` from its committed definition."""
        ctx = self.context(infrastructure)
        launcher = self.function(f"launcher-{infrastructure.value}", lambda e, c: handle(e, ctx))
        text = definition_path(infrastructure).read_text()
        text = text.replace("${LauncherFunctionArn}", launcher)
        if runner_arn is not None:
            text = text.replace("${RunnerFunctionArn}", runner_arn)
        created = self.sfn.create_state_machine(
            name=f"launcher-{infrastructure.value}", definition=text, roleArn=ROLE
        )
        return str(created["stateMachineArn"])

    def deployment(self, infrastructure: InfrastructureType, **fields: Any) -> str:
        flow = self.api.post("/flows", {"name": "etl"}).body["id"]
        body = {
            "flow_id": flow,
            "name": f"nightly-{infrastructure.value}",
            "entrypoint": "flows/etl.py:etl",
            "infrastructure": infrastructure.value,
            **fields,
        }
        answer = self.api.post("/deployments", body)
        assert answer.status in (200, 201), answer.body
        return str(answer.body["id"])

    def scheduled_run(self, deployment_id: str) -> UUID:
        answer = self.api.post(f"/deployments/{deployment_id}/runs", {})
        assert answer.status in (200, 201), answer.body
        assert answer.body["state"]["type"] == "SCHEDULED"
        return UUID(answer.body["id"])

    def start(self, machine_arn: str, run_id: UUID, poll_seconds: int = 1) -> str:
        payload = {"flow_run_id": str(run_id), "poll_seconds": poll_seconds}
        started = self.sfn.start_execution(
            stateMachineArn=machine_arn, name=str(run_id), input=json.dumps(payload)
        )
        return str(started["executionArn"])

    def finished(self, execution_arn: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            return None if described["status"] == "RUNNING" else described

        described: dict[str, Any] = wait_for("the execution to end", done)
        return described

    def run(self, run_id: UUID) -> FlowRun:
        return self.store.flow_runs.get(run_id).run

    def run_reaches(self, run_id: UUID, state_type: StateType) -> FlowRun:
        found: FlowRun = wait_for(
            f"run {run_id} to be {state_type}",
            lambda: (run := self.run(run_id)).state.type is state_type and run,
        )
        return found

    def propose(self, run_id: UUID, state_type: StateType) -> StateType:
        proposal = StateProposal(state=State(type=state_type))
        propose_flow_run_state(self.store, run_id, proposal, utcnow())
        return self.run(run_id).state.type

    def failures(self, execution_arn: str) -> list[dict[str, Any]]:
        """The failure details in an execution's history (for assertion messages)."""
        events = self.sfn.get_execution_history(executionArn=execution_arn)["events"]
        return [
            value
            for event in events
            for key, value in event.items()
            if key.endswith("FailedEventDetails")
        ]

    def one_task(self, execution_arn: str) -> str:
        cluster = self.settings.ecs_cluster_arn

        def listed() -> list[str]:
            tasks: list[str] = self.ecs.list_tasks(cluster=cluster)["taskArns"]
            assert not self.failures(execution_arn), self.failures(execution_arn)
            return tasks

        tasks: list[str] = wait_for("the ECS task to start", listed)
        assert len(tasks) == 1
        return tasks[0]


def network_settings(base: Settings) -> Settings:
    """`base` with a real moto cluster, subnet and security group for the ECS launcher (and
    the role the functions and machines run as)."""
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
    }
    boto3.client("iam", region_name=REGION).create_role(
        RoleName="launcher", AssumeRolePolicyDocument=json.dumps(trust)
    )
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # As the stack's VPC has them; moto's awsvpc tasks also need them (their ENI's DNS name).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="runs", Description="runs", VpcId=vpc)["GroupId"]
    ecs = boto3.client("ecs", region_name=REGION)
    cluster = ecs.create_cluster(clusterName="stratoflow")["cluster"]["clusterArn"]
    values = {**base.__dict__}
    values.update(
        ecs_cluster_arn=cluster,
        ecs_subnets=(subnet,),
        ecs_security_groups=(group,),
        ecs_execution_role_arn=ROLE,
        ecs_log_group="/stratoflow/flow-runs",
    )
    return Settings(**values)


def api_for(store: Store, settings: Settings, key: str) -> ApiCaller:
    return ApiCaller(ApiApp(ApiDeps(store=store, settings=settings)), key)
