"""cdk-nag 3 wiring: the AWS Solutions checks, and acknowledgements that always carry a reason.

Every finding Stratoflow accepts is acknowledged next to the resource it is about, through
`acknowledge()`, so the reason sits in the code beside the decision.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one cdk-nag finding on `scope` (and everything under it) for a written reason.

    Args:
        scope: the construct the finding is about.
        rule_id: the rule, or one finding of it (`AwsSolutions-IAM5[Resource::*]`).
        reason: why the finding is acceptable here; never empty.
    """
    if not reason.strip():
        raise ValueError(f"acknowledging {rule_id} needs a reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def add_nag_checks(app: App) -> None:
    """Run the AWS Solutions rule pack over `app` at synthesis; any open finding fails synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def _render(part: Any) -> str:
    """Render one resolved ARN fragment the way cdk-nag prints it in a finding id."""
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and "Ref" in part:
        return f"<{part['Ref']}>"
    if isinstance(part, dict) and "Fn::GetAtt" in part:
        return "<{}.{}>".format(*part["Fn::GetAtt"])
    if isinstance(part, dict) and "Fn::Join" in part:
        separator, parts = part["Fn::Join"]
        return str(separator).join(_render(p) for p in parts)
    return json.dumps(part, separators=(",", ":"))


def wildcard_finding(scope: IConstruct, resource_arn: str) -> str:
    """The id of the AwsSolutions-IAM5 finding about a wildcard in `resource_arn`.

    Args:
        scope: any construct in the stack that holds the policy.
        resource_arn: the ARN (possibly holding tokens) exactly as put in the statement.
    """
    return f"AwsSolutions-IAM5[Resource::{_render(Stack.of(scope).resolve(resource_arn))}]"
