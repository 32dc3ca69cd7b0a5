"""The settings models: defaults, and every refusal is an `InfraSettingsError` naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.infrastructure import (
    SETTINGS_MODELS,
    EcsSettings,
    InfraSettingsError,
    KubernetesSettings,
    LambdaSettings,
    LocalSettings,
    settings_for,
)
from stratoflow.schemas import InfrastructureType

I = InfrastructureType  # noqa: E741 (short, for the table below)


def test_every_infrastructure_has_a_settings_model_with_env() -> None:
    assert set(SETTINGS_MODELS) == set(InfrastructureType)
    for infra in InfrastructureType:
        assert settings_for(infra, {}).env == {}
        assert settings_for(infra, {"env": {"A": "1"}}).env == {"A": "1"}


def test_empty_settings_are_the_documented_defaults() -> None:
    ecs = settings_for(I.ECS, {})
    assert isinstance(ecs, EcsSettings)
    assert (ecs.launch_type, ecs.cpu, ecs.memory, ecs.image) == ("FARGATE", 1024, 2048, None)
    k8s = settings_for(I.KUBERNETES, {})
    assert isinstance(k8s, KubernetesSettings)
    assert (k8s.namespace, k8s.ttl_seconds_after_finished) == ("default", 3600)
    lam = settings_for(I.LAMBDA, {})
    assert isinstance(lam, LambdaSettings)
    assert lam.timeout_seconds == 900
    assert isinstance(settings_for(I.LOCAL, {}), LocalSettings)


@pytest.mark.parametrize(
    ("infra", "values", "field", "reason"),
    [
        (I.ECS, {"cpuu": 1024}, "cpuu", "unknown setting (known: env, image,"),
        (I.ECS, {"cpu": 300}, "cpu", "Fargate accepts 256, 512, 1024"),
        (I.ECS, {"cpu": 256, "memory": 4096}, "memory", "with cpu 256 Fargate accepts 512 to 2048"),
        (I.ECS, {"cpu": "lots"}, "cpu", "valid integer"),
        (I.ECS, {"launch_type": "SPOT"}, "launch_type", "'FARGATE' or 'EC2'"),
        (I.ECS, {"subnets": ["vpc-1"]}, "subnets.0", "subnet-"),
        (I.ECS, {"image": "--privileged"}, "image", "is not a container image reference"),
        (I.ECS, {"env": {"STRATOFLOW_API_KEY": "x"}}, "env", "set by the launcher"),
        (I.ECS, {"env": {"STRATOFLOW_FLOW_RUN_ID": "x"}}, "env", "set by the launcher"),
        (I.ECS, {"env": {"TOKEN": "sf_abc123"}}, "env", "looks like a Stratoflow API key"),
        (I.ECS, {"env": {"1BAD": "x"}}, "env", "is not an environment variable name"),
        (I.ECS, {"env": {"A": [1]}}, "env.A", "valid string"),
        (I.ECS, {"env": ["A=1"]}, "env", "valid dictionary"),
        (I.KUBERNETES, {"resources": {"limits": {"cpu": "lots"}}}, "resources.limits.cpu",
         "is not a Kubernetes quantity"),
        (I.KUBERNETES, {"tolerations": [{"bogus": 1}]}, "tolerations.0.bogus", "unknown setting"),
        (I.KUBERNETES, {"namespace": "Not_DNS"}, "namespace", "pattern"),
        (I.KUBERNETES, {"api_key_secret": {"key": "k"}}, "api_key_secret.name", "Field required"),
        (I.VERTEX, {"accelerator_type": "NVIDIA_TESLA_T4"}, "accelerator_count", "or neither"),
        (I.VERTEX, {"api_key_secret": "my-secret"}, "api_key_secret", "pattern"),
        (I.VERTEX, {"labels": {"Team": "x"}}, "labels.Team", "pattern"),
        (I.LAMBDA, {"timeout_seconds": 901}, "timeout_seconds", "less than or equal to 900"),
        (I.LAMBDA, {"memory": 1024}, "memory", "unknown setting (known: env, timeout_seconds)"),
        (I.LOCAL, {"image": "acme/etl:1"}, "image", "unknown setting (known: env)"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_an_error_naming_the_field(
    infra: InfrastructureType, values: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InfraSettingsError) as caught:
        settings_for(infra, values)
    assert caught.value.field.startswith(field), caught.value.field
    assert str(caught.value).startswith(f"{infra.value} settings: {field}")
    assert reason in str(caught.value)


def test_several_problems_are_all_named_up_to_three() -> None:
    with pytest.raises(InfraSettingsError) as caught:
        settings_for(I.ECS, {"a": 1, "b": 2, "c": 3, "d": 4})
    message = str(caught.value)
    assert "a: unknown" in message
    assert "c: unknown" in message
    assert "(and 1 more)" in message


def test_json_numbers_become_kubernetes_quantities() -> None:
    settings = settings_for(I.KUBERNETES, {"resources": {"limits": {"cpu": 2, "memory": "4Gi"}}})
    assert isinstance(settings, KubernetesSettings)
    assert settings.resources.limits == {"cpu": "2", "memory": "4Gi"}


def test_every_fargate_size_pair_in_the_table_is_accepted() -> None:
    from stratoflow.infrastructure.settings import FARGATE_MEMORY

    for cpu, memories in FARGATE_MEMORY.items():
        for memory in (memories.start, memories[-1]):
            assert settings_for(I.ECS, {"cpu": cpu, "memory": memory}).env == {}
    ec2 = settings_for(I.ECS, {"launch_type": "EC2", "cpu": 300, "memory": 700})
    assert isinstance(ec2, EcsSettings)
    assert ec2.cpu == 300  # EC2 takes any size its instances have room for


def test_scalar_env_values_are_taken_as_their_text() -> None:
    settings = settings_for(I.ECS, {"env": {"PORT": 8080, "RATIO": 0.5, "DEBUG": True}})
    assert settings.env == {"PORT": "8080", "RATIO": "0.5", "DEBUG": "true"}
