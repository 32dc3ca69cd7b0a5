"""Why a launched run crashed, in words: a stopped ECS task or a Step Functions failure turned
into the reason its CRASHED state carries (pure; docs/launchers.md has the table).

The stopped task's diagnosis is the SDK's (`stratoflow.infrastructure.ecs_status`, the ECS
agent's too); here it is read in either casing: boto3's lowerCamel (`describe_tasks`) or the
PascalCase Step Functions hands on (`.sync` output, the Cause of `States.TaskFailed`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stratoflow.infrastructure.ecs_status import diagnose_stopped_task

TIMEOUT_ERRORS = frozenset({"States.Timeout", "States.HeartbeatTimeout", "Sandbox.Timedout"})
CAPACITY_ERRORS = frozenset({"AmazonECS.Unknown", "ECS.AmazonECSException"})
QUOTA_ERRORS = frozenset({"ECS.LimitExceededException", "ECS.ThrottlingException"})


def diagnose_task(task: Mapping[str, Any]) -> str:
    """The reason an ECS task stopped without the run reaching a final state, in either
    casing (the SDK's `diagnose_stopped_task` on its lowerCamel form)."""
    return diagnose_stopped_task(lower_camel(task))


def diagnose_failure(error: str | None, cause: str | None) -> str:
    """The reason behind a Step Functions failure caught by a launcher (`$.failure`)."""
    error, cause = error or "unknown error", cause or ""
    described = _as_object(cause)
    if described is not None and ("containers" in described or "Containers" in described):
        return diagnose_task(described)  # .sync: the stopped task is the Cause
    if error in TIMEOUT_ERRORS:
        return f"timed out: {_message(described, cause) or error}"
    if error in CAPACITY_ERRORS or "RESOURCE:" in cause or "Capacity is unavailable" in cause:
        return f"no capacity to start the task: {_message(described, cause) or error}"
    if error in QUOTA_ERRORS:
        return f"a quota or rate limit refused the launch ({error}): {cause}"
    if described is not None and "errorType" in described:
        return f"{described['errorType']}: {described.get('errorMessage', '')}".rstrip(": ")
    return f"{error}{_suffix(cause)}"


def lower_camel(value: Any) -> Any:
    """`value` with every mapping key's first letter lowered (PascalCase -> boto3 casing)."""
    if isinstance(value, Mapping):
        return {_lower_first(str(key)): lower_camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [lower_camel(item) for item in value]
    return value


def _lower_first(key: str) -> str:
    return key[:1].lower() + key[1:]


def _as_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _message(described: Mapping[str, Any] | None, cause: str) -> str:
    if described is not None and "errorMessage" in described:
        return str(described["errorMessage"])
    return cause


def _suffix(text: str) -> str:
    return f": {text}" if text else ""
