"""Helpers of the dispatch and cancel tests: deployments through the API, executions in moto."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from tests.support import ApiCaller

PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
ROLE_ARN = "arn:aws:iam::123456789012:role/stratoflow-launcher"


def deploy(api: ApiCaller, infrastructure: str, name: str | None = None, **fields: Any) -> str:
    """A deployment of flow `etl` on `infrastructure` (no schedule); its id."""
    flow_id = api.post("/flows", {"name": "etl"}).body["id"]
    body = {
        "flow_id": flow_id,
        "name": name or f"on-{infrastructure}",
        "entrypoint": "flows/etl.py:etl",
        "infrastructure": infrastructure,
        **fields,
    }
    answer = api.post("/deployments", body)
    assert answer.status in (200, 201), answer.body
    return str(answer.body["id"])


def run_at(api: ApiCaller, deployment_id: str, start: datetime | None = None) -> str:
    """A manual run of the deployment (at `start`, or now); its id."""
    body = {} if start is None else {"scheduled_start_time": start.isoformat()}
    answer = api.post(f"/deployments/{deployment_id}/runs", body)
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


def executions(sfn: Any, machine_arn: str) -> list[dict[str, Any]]:
    """Every execution of `machine_arn`, with its input."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"stateMachineArn": machine_arn}
    while True:
        page = sfn.list_executions(**kwargs)
        for item in page["executions"]:
            described = sfn.describe_execution(executionArn=item["executionArn"])
            found.append({**item, "input": json.loads(described["input"])})
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]


def names_started(sfn: Any, machine_arn: str) -> Counter[str]:
    """How many executions of `machine_arn` each name has (1 each when dispatch is right)."""
    return Counter(item["name"] for item in executions(sfn, machine_arn))
