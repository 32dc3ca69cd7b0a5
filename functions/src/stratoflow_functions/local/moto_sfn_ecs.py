"""Make the emulator's Step Functions speak ECS in the right casing.

moto 5.2's state-machine interpreter (a port of LocalStack's) passes a Task state's ASL
parameters, which are PascalCase (`Cluster`, `TaskDefinition`, `Overrides`), straight to
boto3's `run_task`, whose members are lowerCamel: botocore rejects the call and the state fails
with `States.Runtime` and the cause `'Cluster'`. Its `.sync` poller then reads the task in
PascalCase from a lowerCamel `describe_tasks` answer. It is the defect getmoto/moto#10076 fixed
for `states:startExecution` (moto commit 63e980f68): normalise the request through botocore's
service model (`_to_boto_request`, which matches members case-insensitively and leaves map
keys alone) and the response back (`_from_boto_response`). This does the same for ECS, for
every operation the ECS service model knows.

A second gap of the same integration: an ECS error (ClusterNotFoundException,
InvalidParameterException, ...) fails the state as `States.Runtime`, which no Catch can take;
Step Functions reports it as a task failure named `ECS.<code>` (what a state machine's Retry and
Catch match), and so does this. Remove both once moto ships them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.exceptions import ClientError


@cache
def _ecs_operations() -> dict[str, Any]:
    """Each ECS operation model by boto3's method name (`run_task` -> RunTask's model)."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model("ecs")
    return {xform_name(name): model.operation_model(name) for name in model.operation_names}


def _ecs_failure(service: Any, env: Any, ex: Any) -> Any:
    """The TaskFailed event Step Functions records for an ECS API error."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )

    error = f"ECS.{ex.response['Error']['Code']}"
    cause = f"{ex.response['Error']['Message']} (Service: AmazonECS; Error Code: {error[4:]})"
    details = TaskFailedEventDetails(
        error=error,
        cause=cause,
        resource=service._get_sfn_resource(),
        resourceType=service._get_sfn_resource_type(),
    )
    event_details: Any = {"taskFailedEventDetails": details}  # an EventDetails TypedDict
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.TaskFailed,
        event_details=event_details,
    )


def make_moto_sfn_ecs_cased() -> None:
    """Install the ECS normalisation (idempotent: patches once per process)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs,
    )

    cls: Any = state_task_service_ecs.StateTaskServiceEcs
    if getattr(cls, "_stratoflow_cased", False):
        return

    def normalise_parameters(
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        operation = _ecs_operations().get(self._get_boto_service_action(service_action_name))
        if operation is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        operation = _ecs_operations().get(self._get_boto_service_action(service_action_name))
        if operation is not None:
            self._from_boto_response(response, operation.output_shape)

    original_from_error = cls._from_error

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            return _ecs_failure(self, env, ex)
        return original_from_error(self, env, ex)

    cls._normalise_parameters = normalise_parameters
    cls._from_error = from_error
    cls._normalise_response = normalise_response
    cls._stratoflow_cased = True
