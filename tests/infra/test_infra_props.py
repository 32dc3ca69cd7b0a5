"""The construct's props change what is built: no launcher, a custom domain, destroyable data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from infra_synth import STUB_CODE, Synthesized, synthesize


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every launcher off (the default), a custom domain, DESTROY removal, an alarm e-mail,
    90-day logs."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-variant"),
        domainName="stratoflow.example.com",
        certificateArn="arn:aws:acm:us-east-1:123456789012:certificate/abc",
        removalPolicy="destroy",
        alarmEmail="oncall@example.com",
        logRetentionDays="90",
        towelReservedConcurrency="none",
    )


def _of_type(synthesized: Synthesized, kind: str) -> list[dict[str, Any]]:
    resources = synthesized.template_json["Resources"].values()
    return [r for r in resources if r["Type"] == kind]


def test_with_every_launcher_off_nothing_of_them_is_deployed(variant: Synthesized) -> None:
    for kind in (
        "AWS::StepFunctions::StateMachine",
        "AWS::ECS::Cluster",
        "AWS::EC2::VPC",
        "AWS::EC2::SecurityGroup",
        "Custom::VpcRestrictDefaultSG",
    ):
        assert _of_type(variant, kind) == [], kind
    text = json.dumps(variant.template_json)
    for needle in (
        "states:", "ecs:", "iam:PassRole", "secretsmanager:", "execute-api:Invoke",
        "_LAUNCHER_ARN", "STRATOFLOW_LAUNCH_", "handlers.launcher", "handlers.runner",
    ):  # fmt: skip
        assert needle not in text, needle
    assert len(_of_type(variant, "AWS::Lambda::Function")) == 6


def test_custom_domain_maps_key_api_at_root_and_iam_api_under_iam(variant: Synthesized) -> None:
    [domain] = _of_type(variant, "AWS::ApiGatewayV2::DomainName")
    mappings = _of_type(variant, "AWS::ApiGatewayV2::ApiMapping")

    assert domain["Properties"]["DomainName"] == "stratoflow.example.com"
    assert domain["Properties"]["DomainNameConfigurations"][0]["SecurityPolicy"] == "TLS_1_2"
    assert sorted(m["Properties"].get("ApiMappingKey", "") for m in mappings) == ["", "iam"]


def test_destroy_policy_deletes_data_and_drops_deletion_protection(variant: Synthesized) -> None:
    [table] = _of_type(variant, "AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["DeletionProtectionEnabled"] is False
    assert {b["DeletionPolicy"] for b in _of_type(variant, "AWS::S3::Bucket")} == {"Delete"}


def test_alarm_email_is_subscribed_and_retention_and_concurrency_follow_props(
    variant: Synthesized,
) -> None:
    [subscription] = _of_type(variant, "AWS::SNS::Subscription")
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"
    assert {
        g["Properties"]["RetentionInDays"] for g in _of_type(variant, "AWS::Logs::LogGroup")
    } == {90}
    functions = _of_type(variant, "AWS::Lambda::Function")
    assert all("ReservedConcurrentExecutions" not in f["Properties"] for f in functions)


def test_a_retention_cloudwatch_does_not_allow_is_refused(tmp_path: Path) -> None:
    from aws_cdk import App, Stack

    from stratoflow_infra.constructs import Stratoflow, StratoflowProps

    props = StratoflowProps(code_path=str(STUB_CODE), log_retention_days=31)
    with pytest.raises(ValueError, match="31 days"):
        Stratoflow(Stack(App(outdir=str(tmp_path)), "S"), "Stratoflow", props=props)
