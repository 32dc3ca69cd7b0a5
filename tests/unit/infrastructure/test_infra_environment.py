"""What every launched run receives, the image choice, the Lambda payload, and the proof that no
secret value reaches any spec: only references do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratoflow.infrastructure import (
    DEFAULT_RUNTIME_IMAGE,
    EcsSettings,
    InfraSettingsError,
    KubernetesSettings,
    LambdaSettings,
    VertexSettings,
    custom_job,
    execute_command,
    image_for,
    job_manifest,
    launch_environment,
    run_task_request,
    runner_payload,
    task_definition_request,
)
from stratoflow.schemas import CodeBundle, CodeImage
from tests.unit.infrastructure.infra_support import (
    API_URL,
    KEY_SECRET_ARN,
    RUN_ID,
    SECRET_KEY_VALUE,
    assert_snapshot,
    deployment,
    flow_run,
)


def test_the_launch_environment_is_the_api_the_run_and_the_user_env() -> None:
    env = launch_environment(API_URL, RUN_ID, {"WAREHOUSE": "analytics"})
    assert env == {
        "STRATOFLOW_API_URL": API_URL,
        "STRATOFLOW_FLOW_RUN_ID": str(RUN_ID),
        "WAREHOUSE": "analytics",
    }
    assert execute_command(RUN_ID) == ["stratoflow", "execute", str(RUN_ID)]


@pytest.mark.parametrize(
    "name",
    [
        "STRATOFLOW_API_KEY",
        "STRATOFLOW_API_URL",
        "STRATOFLOW_FLOW_RUN_ID",
        "STRATOFLOW_API_KEY_SECRET",
        "STRATOFLOW_INFRASTRUCTURE_ID",
    ],
)
def test_the_launch_environment_refuses_a_variable_the_launcher_sets(name: str) -> None:
    with pytest.raises(InfraSettingsError, match=f"env.{name}: set by the launcher") as caught:
        launch_environment(API_URL, RUN_ID, {name: "x"})
    assert caught.value.field == f"env.{name}"


def test_the_image_is_the_settings_then_the_code_image_then_the_default() -> None:
    bundle = CodeBundle(uri="s3://stratoflow-code/bundles/x.zip", sha256="ab" * 32)
    image = CodeImage(image="acme/etl:1.2")
    assert image_for(deployment(image), EcsSettings(image="acme/other:2")) == "acme/other:2"
    assert image_for(deployment(image), EcsSettings()) == "acme/etl:1.2"
    assert image_for(deployment(bundle), EcsSettings()) == DEFAULT_RUNTIME_IMAGE
    assert image_for(deployment(None), LambdaSettings(), default_image="x/y:1") == "x/y:1"


def test_the_lambda_payload_names_the_run_and_nothing_else() -> None:
    assert runner_payload(flow_run()) == {"flow_run_id": str(RUN_ID)}
    assert_snapshot("lambda_runner_payload", runner_payload(flow_run()))


def _every_spec() -> list[dict[str, Any]]:
    run = flow_run()
    env = launch_environment(API_URL, RUN_ID, {"WAREHOUSE": "analytics"})
    k8s = KubernetesSettings.model_validate({"api_key_secret": {"name": "stratoflow-api-key"}})
    vertex = VertexSettings(api_key_secret="projects/p/secrets/stratoflow-api-key/versions/1")
    return [
        task_definition_request(
            EcsSettings(), "acme/etl:1", api_key_secret=KEY_SECRET_ARN, log_group="/sf", region="x"
        ),
        run_task_request(
            EcsSettings(), cluster="c", task_definition_arn="arn:td", run=run, environment=env,
            subnets=["subnet-1"], security_groups=[], assign_public_ip=False,
        ),
        job_manifest(k8s, run, "acme/etl:1", env),
        custom_job(vertex, run, "acme/etl:1", env),
        runner_payload(run),
    ]  # fmt: skip


def test_no_secret_value_reaches_any_spec_only_references(monkeypatch: pytest.MonkeyPatch) -> None:
    # The key sits in the environment of the process building the specs, as in a launcher.
    monkeypatch.setenv("STRATOFLOW_API_KEY", SECRET_KEY_VALUE)
    text = json.dumps(_every_spec())
    assert SECRET_KEY_VALUE not in text
    assert "sf_" not in text
    assert KEY_SECRET_ARN in text  # the ECS reference
    assert '"secretKeyRef": {"name": "stratoflow-api-key"' in text  # the Kubernetes one
    assert "projects/p/secrets/stratoflow-api-key/versions/1" in text  # the Vertex one


def test_a_key_cannot_be_smuggled_in_through_user_env() -> None:
    for env in ({"STRATOFLOW_API_KEY": SECRET_KEY_VALUE}, {"MY_KEY": SECRET_KEY_VALUE}):
        for model in (EcsSettings, KubernetesSettings, VertexSettings, LambdaSettings):
            with pytest.raises(ValueError, match="env"):
                model.model_validate({"env": env})
