"""Towel: the scheduler, zombie killer and Lazarus Lambdas on their EventBridge cadence (SPEC 4).

Each timeout is below its cadence, so one invocation ends before the next is due; reserved
concurrency 1 (configurable) makes EventBridge's at-least-once delivery queue up rather than
overlap, and the services are written to be safe twice at once anyway (conditional writes,
idempotency keys). A failed invocation, after EventBridge's and Lambda's retries, lands in the
service's dead-letter queue, which pages through an alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stratoflow_infra.constructs.functions import FunctionSpec, LambdaFactory, secure_queue


@dataclass(frozen=True)
class TowelService:
    """One maintenance service: its handler module, cadence and timeout."""

    name: str
    module: str
    rate: Duration
    timeout: Duration
    description: str


TOWEL_SERVICES = (
    TowelService(
        "Scheduler",
        "scheduler",
        Duration.minutes(1),
        Duration.seconds(55),
        "Creates the next scheduled runs, marks Late runs, dispatches due push runs.",
    ),
    TowelService(
        "ZombieKiller",
        "zombie_killer",
        Duration.minutes(2),
        Duration.seconds(110),
        "Crashes RUNNING runs whose heartbeat stopped; finishes stale CANCELLING runs.",
    ),
    TowelService(
        "Lazarus",
        "lazarus",
        Duration.minutes(10),
        Duration.minutes(5),
        "Reschedules runs stuck PENDING/RUNNING with no progress, at most three times.",
    ),
)
"""The rate of each matches SPEC section 4; each timeout is below its rate."""


class Towel(Construct):
    """The three maintenance functions, their schedules and dead-letter queues.

    Attributes:
        functions: function by service name (`Scheduler`, `ZombieKiller`, `Lazarus`).
        dead_letter_queues: the dead-letter queue of each service, by name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: LambdaFactory,
        reserved_concurrency: int | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, lambda_.Function] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for service in TOWEL_SERVICES:
            self._service(service, factory, reserved_concurrency)

    def _service(
        self, service: TowelService, factory: LambdaFactory, reserved_concurrency: int | None
    ) -> None:
        dlq = secure_queue(self, f"{service.name}Dlq", f"failed {service.module} runs")
        function = factory.create(
            FunctionSpec(
                construct_id=f"{service.name}Function",
                module=service.module,
                description=service.description,
                timeout=service.timeout,
                reserved_concurrency=reserved_concurrency,
                dead_letter_queue=dlq,
            )
        )
        # The next tick does the same work, so an event older than one period is stale.
        rule = events.Rule(
            self,
            f"{service.name}Schedule",
            schedule=events.Schedule.rate(service.rate),
            description=f"Stratoflow {service.module} cadence",
        )
        rule.add_target(
            targets.LambdaFunction(
                function,
                dead_letter_queue=dlq,
                retry_attempts=2,
                max_event_age=service.rate,
            )
        )
        self.functions[service.name] = function
        self.dead_letter_queues[service.name] = dlq
