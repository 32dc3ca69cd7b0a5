"""State-change events: the table's stream, filtered to flow runs, to an EventBridge bus.

The event source mapping filters on the stream itself (only INSERT/MODIFY of items with
`entity` = `flow_run`), so heartbeats of task runs, logs and the rest never invoke the
function; the function writes each flow-run change's state-history item and run counters
(hence its write access to the table) and publishes the writes that changed the state. Failed
batches are split, retried, then recorded in a dead-letter queue.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from stratoflow_infra.constructs.functions import FunctionSpec, LambdaFactory, secure_queue

LIST_STREAMS_REASON = (
    "dynamodb:ListStreams (granted with the stream read, called by the event source mapping) "
    "supports no resource-level permissions; the records themselves (DescribeStream, "
    "GetRecords, GetShardIterator) are read from this table's stream ARN only."
)
DETAIL_TYPE = "Stratoflow Flow Run State Change"
EVENT_SOURCE = "stratoflow"


class StateEvents(Construct):
    """The stream consumer that publishes flow-run state changes.

    Attributes:
        function: the stream Lambda.
        dead_letter_queue: records of batches that failed every retry.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: LambdaFactory,
        table: dynamodb.ITable,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = secure_queue(self, "Dlq", "stream batches that never published")
        self.function = factory.create(
            FunctionSpec(
                construct_id="StateEventsFunction",
                module="state_events",
                description="Publishes flow-run state changes from the table stream.",
                timeout=Duration.seconds(30),
                memory_mb=256,
                unscoped=(LIST_STREAMS_REASON,),
            )
        )
        bus.grant_put_events_to(self.function)
        # State history and run counters: Puts and Updates of table items (in transactions).
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
                resources=[table.table_arn],
            )
        )
        self.function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=100,
                max_batching_window=Duration.seconds(1),
                bisect_batch_on_error=True,
                retry_attempts=5,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.dead_letter_queue),
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": lambda_.FilterRule.or_("INSERT", "MODIFY"),
                            "dynamodb": {
                                "NewImage": {
                                    "entity": {"S": lambda_.FilterRule.is_equal("flow_run")}
                                }
                            },
                        }
                    )
                ],
            )
        )
