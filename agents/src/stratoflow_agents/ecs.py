"""`EcsAgent`: runs each claimed flow run as one ECS task (Fargate or EC2, awsvpc).

The requests come from the SDK's builders (`stratoflow.infrastructure.ecs`), shared with the
push launcher: the task definition (`task_definition_request`, its family a hash of its
content) is registered once per family (DescribeTaskDefinition first, then remembered by this
agent), and each run is one RunTask (`run_task_request`) tagged with its run id and started by
this agent's marker. The agent's options (cluster, subnets, security groups, public IP, roles,
log group) are the defaults; the deployment's `EcsSettings` win over them, and are validated
before the launch (a bad setting crashes that run, never the agent).

The API key travels only by reference: `--api-key-secret-arn` names a Secrets Manager secret
(or SSM parameter) that ECS resolves into the container's `STRATOFLOW_API_KEY` when the task
starts (the task definition's `secrets`); it is in no RunTask override. boto3 is the `ecs`
extra, imported when this module is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from uuid import UUID

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from stratoflow.client.settings import ClientSettings
from stratoflow.infrastructure import (
    FLOW_RUN_TAG,
    EcsSettings,
    InfraSettingsError,
    image_for,
    launch_environment,
    run_task_request,
    settings_for,
    task_definition_request,
)
from stratoflow.infrastructure.ecs_status import diagnose_stopped_task, flow_exit_code
from stratoflow.schemas import ClaimedRun, InfrastructureType
from stratoflow_agents.base import BaseAgent
from stratoflow_agents.config import AgentConfig
from stratoflow_agents.errors import AgentError, LaunchError
from stratoflow_agents.handles import RunHandle
from stratoflow_agents.reporting import AgentClient

logger = logging.getLogger("stratoflow.agent")

AGENT_STARTED_BY = "stratoflow-agent"
"""RunTask's `startedBy` of the tasks an ECS agent starts (what `recover` lists them by)."""
DEFAULT_LOG_GROUP = "/stratoflow/flow-runs"
LOST_EXIT_CODE = 1
"""What a task ECS no longer knows, or a stopped one with no exit code, counts as."""
STOP_REASON = "stopped by the Stratoflow agent"
DESCRIBE_INTERVAL = 5.0
"""Seconds between two DescribeTasks of one task (ECS throttles DescribeTasks per account)."""
_NOT_FOUND_CODES = frozenset({"InvalidParameterException", "ClientException"})


class EcsRunHandle(RunHandle):
    """One run's ECS task, read through DescribeTasks and stopped with StopTask.

    Args:
        ecs: a boto3 ECS client.
        cluster: the task's cluster (name or ARN).
        task_arn: the task.
        clock: a monotonic clock in seconds (the agent's).
        describe_interval: the least time between two DescribeTasks of this task.
    """

    def __init__(
        self,
        ecs: Any,
        cluster: str,
        task_arn: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        describe_interval: float = DESCRIBE_INTERVAL,
    ) -> None:
        self.ecs = ecs
        self.cluster = cluster
        self.task_arn = task_arn
        self._clock = clock
        self._interval = describe_interval
        self._next_describe = float("-inf")
        self._stopped: dict[str, Any] | None = None
        self._missing = False

    @property
    def infrastructure_id(self) -> str:
        """The task's ARN."""
        return self.task_arn

    def poll(self) -> int | None:
        """The flow container's exit code once the task is STOPPED (1 when it has none, e.g.
        the image could not be pulled, or when ECS no longer knows the task); else None.

        DescribeTasks is called at most every `describe_interval` (None in between); one that
        fails (throttling, the network) counts as "still running".
        """
        if self._missing:
            return LOST_EXIT_CODE
        if self._stopped is None:
            now = self._clock()
            if now < self._next_describe:
                return None
            self._next_describe = now + self._interval
            try:
                answer = self.ecs.describe_tasks(cluster=self.cluster, tasks=[self.task_arn])
            except (ClientError, BotoCoreError) as exc:
                logger.warning("task %s: DescribeTasks failed: %s", self.task_arn, exc)
                return None
            tasks = answer.get("tasks") or []
            if not tasks:
                self._missing = True
                return LOST_EXIT_CODE
            if tasks[0].get("lastStatus") != "STOPPED":
                return None
            self._stopped = tasks[0]
        code = flow_exit_code(self._stopped)
        return code if code is not None else LOST_EXIT_CODE

    def terminate(self) -> None:
        """StopTask (ECS sends SIGTERM, then SIGKILL after the task's stop timeout)."""
        self._stop()

    def kill(self) -> None:
        """StopTask again: ECS has no harder stop; its own timeout sends the SIGKILL."""
        self._stop()

    def failure_detail(self) -> str | None:
        """Why the task stopped: its stop code and reason, an image pull error, OOM."""
        if self._missing:
            return "ECS no longer knows the task (stopped tasks are kept about an hour)"
        return diagnose_stopped_task(self._stopped) if self._stopped is not None else None

    def _stop(self) -> None:
        if self._stopped is not None or self._missing:
            return
        try:
            self.ecs.stop_task(cluster=self.cluster, task=self.task_arn, reason=STOP_REASON)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _NOT_FOUND_CODES:
                logger.warning("task %s: StopTask failed: %s", self.task_arn, exc)
            # not found: the task is gone, which is what was asked
        except BotoCoreError as exc:
            logger.warning("task %s: StopTask failed: %s", self.task_arn, exc)


class EcsAgent(BaseAgent):
    """Runs flow runs as ECS tasks.

    Args:
        config: how to poll, watch and stop runs.
        client: the API.
        settings: the agent's API settings; its URL is what the tasks reach the API at.
        cluster: the cluster the tasks run in (name or ARN).
        subnets: default subnets (a deployment's `subnets` win).
        security_groups: default security groups (a deployment's win).
        assign_public_ip: default public IP choice (a deployment's wins).
        execution_role_arn: default task execution role (pulls the image, reads the key secret).
        task_role_arn: default task role (what the flow's code may call).
        log_group: the CloudWatch log group of the containers.
        api_key_secret_arn: the secret holding the API key, resolved by ECS (None: no key).
        ecs: a boto3 ECS client (default: one from the default session, `region`).
        region: the region of the default client and of the log group.
        started_by: the `startedBy` marker of this agent's tasks (at most 36 characters).
        describe_interval: the least time between two DescribeTasks of one task.
        **kwargs: clock, sleep, rand, agent_id (see `BaseAgent`).
    """

    infrastructure: ClassVar[InfrastructureType] = InfrastructureType.ECS

    def __init__(
        self,
        config: AgentConfig,
        client: AgentClient,
        settings: ClientSettings,
        *,
        cluster: str,
        subnets: Sequence[str] = (),
        security_groups: Sequence[str] = (),
        assign_public_ip: bool = False,
        execution_role_arn: str | None = None,
        task_role_arn: str | None = None,
        log_group: str = DEFAULT_LOG_GROUP,
        api_key_secret_arn: str | None = None,
        ecs: Any = None,
        region: str | None = None,
        started_by: str = AGENT_STARTED_BY,
        describe_interval: float = DESCRIBE_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, client, **kwargs)
        self._handle_clock: Callable[[], float] = kwargs.get("clock", time.monotonic)
        self.describe_interval = describe_interval
        if not settings.api_url:
            raise AgentError("the ECS agent needs an API URL: its tasks report to it")
        self.api_url = settings.api_url
        self.cluster = cluster
        self.subnets = list(subnets)
        self.security_groups = list(security_groups)
        self.assign_public_ip = assign_public_ip
        self.execution_role_arn = execution_role_arn
        self.task_role_arn = task_role_arn
        self.log_group = log_group
        self.api_key_secret_arn = api_key_secret_arn
        self.ecs = ecs if ecs is not None else boto3.client("ecs", region_name=region)
        self.region = region or str(self.ecs.meta.region_name)
        self.started_by = started_by
        self._definitions: dict[str, str] = {}  # family -> ARN, registered or found

    def launch(self, claimed: ClaimedRun) -> EcsRunHandle:
        """Register the task definition if its family has none, then RunTask.

        Raises:
            LaunchError: bad settings, no deployment, or ECS refused (the message says why).
        """
        run, deployment = claimed.flow_run, claimed.deployment
        if deployment is None:
            raise LaunchError("the claim carries no deployment: nothing says what to run")
        try:
            ecs_settings = settings_for(InfrastructureType.ECS, deployment.infra_overrides)
            assert isinstance(ecs_settings, EcsSettings)  # the ECS model, by settings_for
            definition = task_definition_request(
                ecs_settings,
                image_for(deployment, ecs_settings),
                api_key_secret=self.api_key_secret_arn,
                log_group=self.log_group,
                region=self.region,
                execution_role_arn=self.execution_role_arn,
                task_role_arn=self.task_role_arn,
            )
            environment = launch_environment(self.api_url, run.id, ecs_settings.env)
            arn = self._task_definition(definition)
            request = run_task_request(
                ecs_settings,
                cluster=self.cluster,
                task_definition_arn=arn,
                run=run,
                environment=environment,
                subnets=self.subnets,
                security_groups=self.security_groups,
                assign_public_ip=self.assign_public_ip,
            )
        except InfraSettingsError as exc:
            raise LaunchError(exc.message) from exc
        request["startedBy"] = self.started_by
        try:
            answer = self.ecs.run_task(**request)
        except (ClientError, BotoCoreError) as exc:
            raise LaunchError(f"RunTask failed: {exc}") from exc
        tasks = answer.get("tasks") or []
        if not tasks:
            failures = "; ".join(
                f"{f.get('reason', '?')} {f.get('detail') or ''}".strip()
                for f in answer.get("failures") or []
            )
            raise LaunchError(f"RunTask started no task: {failures or 'no reason given'}")
        return self._handle(str(tasks[0]["taskArn"]))

    def recover(self) -> dict[UUID, RunHandle]:
        """This agent's tasks in the cluster (running, or stopped recently: the loop then
        records how they ended), by the run id of their tag; a run with several keeps its
        running one."""
        found: dict[UUID, EcsRunHandle] = {}
        for task in self._own_tasks():
            tags = {t.get("key"): t.get("value") for t in task.get("tags") or []}
            try:
                run_id = UUID(str(tags.get(FLOW_RUN_TAG)))
            except ValueError:
                continue
            if run_id in found and task.get("lastStatus") == "STOPPED":
                continue
            found[run_id] = self._handle(str(task["taskArn"]))
        return dict(found)

    def _handle(self, task_arn: str) -> EcsRunHandle:
        return EcsRunHandle(
            self.ecs, self.cluster, task_arn,
            clock=self._handle_clock, describe_interval=self.describe_interval,
        )  # fmt: skip

    def _own_tasks(self) -> list[dict[str, Any]]:
        arns: list[str] = []
        paginator = self.ecs.get_paginator("list_tasks")
        try:
            for status in ("STOPPED", "RUNNING"):  # a running task, read last, wins a run
                pages = paginator.paginate(
                    cluster=self.cluster, startedBy=self.started_by, desiredStatus=status
                )
                arns.extend(arn for page in pages for arn in page.get("taskArns", []))
            tasks: list[dict[str, Any]] = []
            for start in range(0, len(arns), 100):  # DescribeTasks takes 100 at most
                chunk = arns[start : start + 100]
                answer = self.ecs.describe_tasks(
                    cluster=self.cluster, tasks=chunk, include=["TAGS"]
                )
                tasks.extend(answer.get("tasks") or [])
        except (ClientError, BotoCoreError) as exc:
            raise AgentError(f"cannot list the cluster's tasks to find runs again: {exc}") from exc
        order = {arn: i for i, arn in enumerate(arns)}
        return sorted(tasks, key=lambda t: order.get(str(t.get("taskArn")), 0))

    def _task_definition(self, definition: dict[str, Any]) -> str:
        """The ARN of the family's active definition: remembered, described, else registered."""
        family = str(definition["family"])
        if family in self._definitions:
            return self._definitions[family]
        arn = None
        try:
            found = self.ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
            if found.get("status", "ACTIVE") == "ACTIVE":
                arn = str(found["taskDefinitionArn"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _NOT_FOUND_CODES | {
                "ResourceNotFoundException"
            }:
                raise LaunchError(f"DescribeTaskDefinition failed: {exc}") from exc
        except BotoCoreError as exc:
            raise LaunchError(f"DescribeTaskDefinition failed: {exc}") from exc
        if arn is None:
            try:
                registered = self.ecs.register_task_definition(**definition)["taskDefinition"]
            except (ClientError, BotoCoreError) as exc:
                raise LaunchError(f"RegisterTaskDefinition failed: {exc}") from exc
            arn = str(registered["taskDefinitionArn"])
            logger.info("registered task definition %s", arn)
        self._definitions[family] = arn
        return arn
