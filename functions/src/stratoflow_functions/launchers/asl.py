"""The launcher state machines as data: pure functions that build each Amazon States Language
definition (DESIGN10 section 2, docs/launchers.md).

Every machine starts with Claim (SCHEDULED -> PENDING through the kernel, in the launcher
Lambda): `claimed` goes on, `wait` (a concurrency limit is full) waits and claims again, `gone`
(a rival claimed it, it was cancelled or deleted) ends the execution quietly. What follows
depends on the infrastructure: ECS runs the task with `ecs:runTask.sync`; Kubernetes and Vertex
launch through the Lambda and poll its `status`; Lambda invokes the runner function. Any
infrastructure failure is caught and handed to the launcher's `settle`, which reports CRASHED
with a diagnosis. The only placeholders are the CDK definition substitutions
`${LauncherFunctionArn}` and `${RunnerFunctionArn}`; the committed `definitions/*.asl.json`
are this module's output (`python -m stratoflow_functions.launchers.asl --write`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from stratoflow.schemas import InfrastructureType

LAUNCHER_FUNCTION = "${LauncherFunctionArn}"
RUNNER_FUNCTION = "${RunnerFunctionArn}"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
ECS_RUN_TASK_SYNC = "arn:aws:states:::ecs:runTask.sync"
POLL_SECONDS_PATH = "$.poll_seconds"
"""The execution input's interval (the dispatcher sets it from `launcher_poll_seconds`): how
long a run behind a full concurrency limit waits before the machine claims again, and how long
the poll loop waits between two status reads."""
RUNNER_TIMEOUT_SECONDS = 900
"""Lambda's own ceiling: a runner invocation that lasts longer has timed out."""

RUN_TASK_PARAMETERS = (
    "Cluster",
    "TaskDefinition",
    "LaunchType",
    "NetworkConfiguration",
    "Overrides",
    "PropagateTags",
    "Tags",
)
"""The RunTask parameters the ECS machine passes from `$.launch.request` (what `prepare`
answers, always all of them). `StartedBy` is not among them: the `.sync` integration sets it."""

LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
"""Errors of the Lambda service itself (not of our code): the invocation is retried."""

ECS_RETRIED_ERRORS = [
    "ECS.ThrottlingException",
    "ECS.LimitExceededException",
    "ECS.ServerException",
    "ECS.AmazonECSException",
    "AmazonECS.Unknown",
]
"""RunTask errors worth another try: throttling, the account's task quota, ECS's own faults,
and capacity (`.sync` reports RunTask's `failures` such as RESOURCE:MEMORY or Fargate's
"Capacity is unavailable" as AmazonECS.Unknown / ECS.AmazonECSException). Never
States.TaskFailed: that is the flow's container exiting with an error, which is the run's
own outcome."""

SETTLED = ("state", "$.settled")
"""Where `settle` leaves the run's final state type: the execution's output shows it."""

POLLED = (InfrastructureType.KUBERNETES, InfrastructureType.VERTEX)
"""The infrastructures launched by the Lambda and watched by a Wait / Status / Choice loop."""


def ecs_definition() -> dict[str, Any]:
    """The ECS/Fargate launcher: Claim, Prepare (task definition + RunTask request), RunTask
    until the task stops, Settle with the stopped task (or the failure)."""
    run_task = {
        "Type": "Task",
        "Resource": ECS_RUN_TASK_SYNC,
        "Parameters": {f"{name}.$": f"$.launch.request.{name}" for name in RUN_TASK_PARAMETERS},
        "ResultPath": "$.task",
        "Retry": [
            {
                "ErrorEquals": ECS_RETRIED_ERRORS,
                "IntervalSeconds": 10,
                "MaxAttempts": 5,
                "BackoffRate": 2.0,
            }
        ],
        "Catch": [_catch_to_settle()],
        "Next": "Settle",
    }
    states = {
        **_claim_states(next_state="Prepare"),
        "Prepare": _launcher_task(
            "prepare", ("request", "$.launch"), next_state="RunTask", catch=True
        ),
        "RunTask": run_task,
        "Settle": _launcher_task("settle", SETTLED, extra={"task.$": "$.task"}, end=True),
        "SettleFailure": _settle_failure(),
    }
    return _machine("Launches a flow run as an ECS task and reports how it ended.", states)


def poll_definition(infrastructure: InfrastructureType) -> dict[str, Any]:
    """The Kubernetes or Vertex launcher: Claim, Launch, then Wait / Status until the job is
    done (the interval is the input's `poll_seconds`).

    Raises:
        ValueError: `infrastructure` is not one the poll loop launches.
    """
    if infrastructure not in POLLED:
        raise ValueError(f"{infrastructure} is not launched by the poll loop")
    status_input = {"infrastructure_id.$": "$.launch.infrastructure_id"}
    states = {
        **_claim_states(next_state="Launch"),
        "Launch": _launcher_task(
            "launch", ("infrastructure_id", "$.launch"), next_state="WaitForJob", catch=True
        ),
        "WaitForJob": {"Type": "Wait", "SecondsPath": POLL_SECONDS_PATH, "Next": "Status"},
        "Status": _launcher_task(
            "status", ("done", "$.status"), extra=status_input, next_state="JobDone", catch=True
        ),
        "JobDone": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.status.done", "BooleanEquals": True, "Next": "Done"}],
            "Default": "WaitForJob",
        },
        "Done": {"Type": "Succeed"},
        "SettleFailure": _settle_failure(),
    }
    return _machine(f"Launches a flow run as a {infrastructure} job and polls it.", states)


def lambda_definition() -> dict[str, Any]:
    """The Lambda launcher: Claim, Invoke the runner function (at most 15 minutes), Settle."""
    invoke = {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {
            "FunctionName": RUNNER_FUNCTION,
            "Payload": {"flow_run_id.$": "$.flow_run_id"},
        },
        "TimeoutSeconds": RUNNER_TIMEOUT_SECONDS,
        "ResultSelector": {"answer.$": "$.Payload"},
        "ResultPath": "$.runner",
        # Only throttling: the runner never started, so a retry cannot run the flow twice.
        "Retry": [_retry(["Lambda.TooManyRequestsException"])],
        "Catch": [_catch_to_settle()],
        "Next": "Settle",
    }
    states = {
        **_claim_states(next_state="Invoke"),
        "Invoke": invoke,
        "Settle": _launcher_task("settle", SETTLED, end=True),
        "SettleFailure": _settle_failure(),
    }
    return _machine("Runs a flow run inside the runner Lambda function.", states)


def definitions() -> dict[str, dict[str, Any]]:
    """Every launcher definition by its file stem (the infrastructure's value)."""
    return {
        InfrastructureType.ECS.value: ecs_definition(),
        InfrastructureType.KUBERNETES.value: poll_definition(InfrastructureType.KUBERNETES),
        InfrastructureType.VERTEX.value: poll_definition(InfrastructureType.VERTEX),
        InfrastructureType.LAMBDA.value: lambda_definition(),
    }


def render(definition: dict[str, Any]) -> str:
    """The file text of a definition: stable key order, two-space indent, final newline."""
    return json.dumps(definition, indent=2) + "\n"


DEFINITIONS_DIR = Path(__file__).parent / "definitions"
"""Where the committed definition files live (read by the CDK app and the local stack)."""


def definition_path(infrastructure: InfrastructureType) -> Path:
    """The committed file of one infrastructure's launcher definition."""
    return DEFINITIONS_DIR / f"{infrastructure.value}.asl.json"


def _machine(comment: str, states: dict[str, Any]) -> dict[str, Any]:
    return {"Comment": comment, "StartAt": "Claim", "States": states}


def _claim_states(next_state: str) -> dict[str, Any]:
    """Claim, ClaimOutcome (claimed / wait / gone), WaitForSlot and Gone."""
    outcome = "$.claim.outcome"
    return {
        "Claim": _launcher_task(
            "claim",
            ("outcome", "$.claim"),
            extra={"execution.$": "$$.Execution.Id"},  # recorded on the run it claims
            next_state="ClaimOutcome",
        ),
        "ClaimOutcome": {
            "Type": "Choice",
            "Choices": [
                {"Variable": outcome, "StringEquals": "claimed", "Next": next_state},
                {"Variable": outcome, "StringEquals": "wait", "Next": "WaitForSlot"},
            ],
            "Default": "Gone",
        },
        "WaitForSlot": {"Type": "Wait", "SecondsPath": POLL_SECONDS_PATH, "Next": "Claim"},
        "Gone": {"Type": "Succeed", "Comment": "a rival claimed the run, or it is gone"},
    }


def _launcher_task(
    action: str,
    answer: tuple[str, str],
    *,
    extra: dict[str, str] | None = None,
    next_state: str | None = None,
    catch: bool = False,
    end: bool = False,
) -> dict[str, Any]:
    """A Task state that invokes the launcher Lambda with `{"action", "flow_run_id", ...}`
    and keeps the one field of its answer named in `answer` = (field, result path), e.g.
    `("outcome", "$.claim")` puts the claim's outcome at `$.claim.outcome`."""
    field, result_path = answer
    payload = {"action": action, "flow_run_id.$": "$.flow_run_id", **(extra or {})}
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": LAUNCHER_FUNCTION, "Payload": payload},
        "ResultSelector": {f"{field}.$": f"$.Payload.{field}"},
        "ResultPath": result_path,
        "Retry": [_retry(LAMBDA_SERVICE_ERRORS)],
    }
    if catch:
        state["Catch"] = [_catch_to_settle()]
    if end:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def _settle_failure() -> dict[str, Any]:
    return _launcher_task("settle", SETTLED, extra={"failure.$": "$.failure"}, end=True)


def _catch_to_settle() -> dict[str, Any]:
    return {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "SettleFailure"}


def _retry(errors: list[str]) -> dict[str, Any]:
    return {"ErrorEquals": errors, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2.0}


def write_definitions(directory: Path = DEFINITIONS_DIR) -> list[Path]:
    """Write every definition file; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, definition in definitions().items():
        path = directory / f"{stem}.asl.json"
        path.write_text(render(definition), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """`python -m stratoflow_functions.launchers.asl [--write]`: print or write the files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="write definitions/*.asl.json")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_definitions():
            print(path)
    else:
        print(json.dumps(definitions(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
