"""The Kubernetes agent with the real `kubernetes` client against the fake `batch/v1` + `core/v1`
API over real HTTP (tests/fakes/kubernetes_api.py): the Job it creates is the SDK's manifest
with the agent's defaults under the deployment's settings; the Job's end, OOMKilled, image pull
back-off, eviction and deadline reach the run; cancel deletes the Job (foreground); a
restarted agent finds its Jobs again; two agents on one queue of the live API never create a
run's Job twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from kubernetes import client as k8s

from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.infrastructure import job_manifest, job_name, launch_environment, settings_for
from stratoflow.schemas import (
    ClaimedRun,
    ClaimRequest,
    ClaimResponse,
    CodeImage,
    Deployment,
    DeploymentCreate,
    DeploymentRunCreate,
    FlowCreate,
    FlowRun,
    InfrastructureType,
    State,
    StateType,
    utcnow,
)
from stratoflow_agents import AgentConfig
from stratoflow_agents.kubernetes import KubernetesAgent, KubernetesRunHandle, connect, merged
from tests.agents.agent_support import FakeClient, FakeClock, flow_run, run_until
from tests.agents.live_support import contend
from tests.fakes.kubernetes_api import FakeKubernetesApi
from tests.fakes.wire import serve

TOKEN = "k8s-token"
API_URL = "http://api.example:8080"
NS = "flows"


def kubeconfig(server: str, folder: Path) -> str:
    """A kubeconfig file with one context on `server`, bearer `TOKEN`."""
    path = folder / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "agent",
        "clusters": [{"name": "c1", "cluster": {"server": server}}],
        "users": [{"name": "u1", "user": {"token": TOKEN}}],
        "contexts": [{"name": "agent", "context": {"cluster": "c1", "user": "u1"}}],
    }))  # fmt: skip
    return str(path)


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[tuple[FakeKubernetesApi, k8s.ApiClient]]:
    """The fake API and a real client connected to it through a kubeconfig file."""
    fake = FakeKubernetesApi(token=TOKEN)
    with serve(fake) as url, connect(kubeconfig(url, tmp_path)) as api:
        yield fake, api


def deployment(overrides: dict[str, Any] | None = None) -> Deployment:
    now = utcnow()
    return Deployment(
        id=uuid4(), flow_id=uuid4(), flow_name="etl", name="nightly", entrypoint="f.py:f",
        code=CodeImage(image="registry.example/etl:1"), work_queue="q",
        infrastructure=InfrastructureType.KUBERNETES, infra_overrides=overrides or {},
        created=now, updated=now,
    )  # fmt: skip


class DeployingClient(FakeClient):
    """The fake API client, handing out each claimed run with its deployment."""

    def __init__(self, clock: FakeClock, claims: list[list[FlowRun]], dep: Deployment) -> None:
        super().__init__(clock, claims)
        self.deployment = dep

    def claim_runs(self, name: str, body: ClaimRequest) -> ClaimResponse:
        runs = super().claim_runs(name, body).runs
        return ClaimResponse(
            runs=[ClaimedRun(flow_run=r.flow_run, deployment=self.deployment) for r in runs]
        )


DEFAULTS = {"namespace": NS, "env": {"REGION": "eu"}, "api_key_secret": {"name": "sf-key"}}


def make(
    api: k8s.ApiClient, runs: list[FlowRun], overrides: dict[str, Any] | None = None
) -> tuple[KubernetesAgent, DeployingClient, FakeClock]:
    clock = FakeClock()
    fake_client = DeployingClient(clock, [runs], deployment(overrides))
    config = AgentConfig(work_queue="q", backoff_jitter=0.0, cancel_check_interval=1.0)
    agent = KubernetesAgent(
        config, fake_client, ClientSettings(api_url=API_URL), api, job_defaults=DEFAULTS,
        clock=clock, sleep=clock.sleep, rand=lambda: 0.0,
    )  # fmt: skip
    return agent, fake_client, clock


def creates(fake: FakeKubernetesApi) -> list[str]:
    """The names of the Jobs POSTed to the fake (409s included)."""
    return [body["metadata"]["name"] for method, _, _, body in fake.requests
            if method == "POST" and body is not None]  # fmt: skip


def test_a_claimed_run_becomes_the_sdk_job_manifest_with_the_agent_defaults_under_the_deployment(
    kube: tuple[FakeKubernetesApi, k8s.ApiClient],
) -> None:
    fake, api = kube
    run = flow_run(StateType.PENDING)
    overrides = {"env": {"MODE": "full"}, "resources": {"limits": {"memory": "4Gi"}}}
    agent, client, _ = make(api, [run], overrides)

    agent.tick()

    [(_method, path, _, body)] = [r for r in fake.requests if r[0] == "POST"]
    assert path == f"/apis/batch/v1/namespaces/{NS}/jobs"
    container = body["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    env = {e["name"]: e.get("value") or e.get("valueFrom") for e in container["env"]}
    assert env["REGION"] == "eu"
    assert env["MODE"] == "full"
    assert env["STRATOFLOW_API_URL"] == API_URL
    assert env["STRATOFLOW_API_KEY"] == {"secretKeyRef": {"name": "sf-key", "key": "api-key"}}
    assert env["STRATOFLOW_INFRASTRUCTURE_ID"] == f"{NS}/{job_name(run)}"  # the engine's too
    assert container["image"] == "registry.example/etl:1"  # the deployment's code image
    assert container["resources"] == {"limits": {"memory": "4Gi"}}
    assert container["command"] == ["stratoflow", "execute", str(run.id)]
    assert body["metadata"]["labels"]["stratoflow.io/flow-run-id"] == str(run.id)  # type: ignore[index]
    settings = settings_for(InfrastructureType.KUBERNETES, merged(DEFAULTS, overrides))
    expected = job_manifest(
        settings, run, "registry.example/etl:1",  # type: ignore[arg-type]
        launch_environment(API_URL, run.id, settings.env),
    )  # fmt: skip
    assert body == expected  # the SDK's builder, no second copy
    assert agent.active[run.id].handle.infrastructure_id == f"{NS}/{job_name(run)}"
    assert client.runs[run.id].infrastructure_id == f"{NS}/{job_name(run)}"  # on the run at once


def test_a_job_that_succeeds_is_seen_with_exit_0_and_leaves_a_completed_run_alone(
    kube: tuple[FakeKubernetesApi, k8s.ApiClient],
) -> None:
    fake, api = kube
    run = flow_run(StateType.PENDING)
    agent, fake_client, clock = make(api, [run])
    agent.tick()
    handle = agent.active[run.id].handle
    fake.run(NS, job_name(run))
    agent.tick()
    assert run.id in agent.active
    assert handle.poll() is None

    fake_client.move(run.id, State(type=StateType.COMPLETED))  # what the engine records
    fake.succeed(NS, job_name(run))
    run_until(agent, clock, lambda: run.id not in agent.active, 5)

    assert handle.poll() == 0
    assert fake_client.proposals == []


def test_an_oomkilled_job_crashes_the_run_with_the_reason(
    kube: tuple[FakeKubernetesApi, k8s.ApiClient],
) -> None:
    fake, api = kube
    run = flow_run(StateType.PENDING)
    agent, fake_client, clock = make(api, [run])
    agent.tick()
    fake.oom_kill(NS, job_name(run))

    run_until(agent, clock, lambda: run.id not in agent.active, 5)

    state = fake_client.state_of(run.id)
    assert state.type is StateType.CRASHED
    assert "exit code 137" in (state.message or "")
    assert "OOMKilled" in (state.message or "")
    assert "memory limit" in (state.message or "")


@pytest.mark.parametrize(
    ("hook", "reason"),
    [
        ("image_pull_backoff", "ImagePullBackOff"),
        ("evict", "Evicted"),
        ("exceed_deadline", "DeadlineExceeded"),
    ],
)
def test_image_pull_back_off_eviction_and_deadline_end_the_run_with_the_reason(
    kube: tuple[FakeKubernetesApi, k8s.ApiClient], hook: str, reason: str
) -> None:
    fake, api = kube
    run = flow_run(StateType.RUNNING)
    agent, fake_client, clock = make(api, [run])
    agent.tick()
    fake.run(NS, job_name(run))
    getattr(fake, hook)(NS, job_name(run))

    run_until(agent, clock, lambda: run.id not in agent.active, 5)

    state = fake_client.state_of(run.id)
    assert state.type is StateType.CRASHED
    assert reason in (state.message or "")


def test_an_unschedulable_pod_is_not_the_end_of_the_run(
    kube: tuple[FakeKubernetesApi, k8s.ApiClient],
) -> None:
    fake, api = kube
    run = flow_run(StateType.PENDING)
    agent, _, _ = make(api, [run])
    agent.tick()
    fake.unschedulable(NS, job_name(run))  # an autoscaler may be adding a node

    agent.tick()

    assert agent.active[run.id].handle.poll() is None


def test_cancel_deletes_the_job_with_foreground_propagation_and_records_cancelled(
    kube: tuple[FakeKubernetesApi, k8s.ApiClient],
) -> None:
    fake, api = kube
    run = flow_run(StateType.RUNNING)
    agent, fake_client, clock = make(api, [run])
    agent.tick()
    fake.run(NS, job_name(run))
    fake_client.move(run.id, State(type=StateType.CANCELLING))

    run_until(agent, clock, lambda: run.id not in agent.active, 10)

    assert fake.deletions[0] == (NS, job_name(run), "Foreground")
    assert (NS, job_name(run)) not in fake.jobs
    assert fake_client.state_of(run.id).type is StateType.CANCELLED


def test_stopping_a_job_that_is_gone_already_is_done(
    kube: tuple[FakeKubernetesApi, k8s.ApiClient],
) -> None:
    fake, api = kube
    handle = KubernetesRunHandle(api, NS, "stratoflow-nothing")

    handle.terminate()
    handle.kill()

    assert [r[0] for r in fake.requests] == ["DELETE", "DELETE"]
    assert handle.poll() == 137
    assert "disappeared" in (handle.failure_detail() or "")


def test_a_restarted_agent_recovers_its_running_job_and_sees_it_end(
    kube: tuple[FakeKubernetesApi, k8s.ApiClient],
) -> None:
    fake, api = kube
    run, other = flow_run(StateType.RUNNING), flow_run(StateType.COMPLETED)
    first, fake_client, _ = make(api, [run, other])
    first.tick()
    fake.run(NS, job_name(run))
    # The first agent dies; a new one (same API, same cluster) starts.
    second = KubernetesAgent(
        first.config, fake_client, first.settings, api, job_defaults=DEFAULTS,
        clock=fake_client.clock, sleep=fake_client.clock.sleep,
    )  # fmt: skip

    found = second.recover()
    second.adopt(found)

    assert set(found) == {run.id, other.id}
    assert set(second.active) == {run.id}  # the COMPLETED run is not taken back
    assert second.active[run.id].handle.infrastructure_id == f"{NS}/{job_name(run)}"
    fake.exit_with(NS, job_name(run), 3)
    run_until(second, fake_client.clock, lambda: run.id not in second.active, 5)
    state = fake_client.state_of(run.id)
    assert state.type is StateType.CRASHED
    assert "code 3" in (state.message or "")
    assert len(creates(fake)) == 2  # one per run: the restart created nothing


def test_a_job_that_exists_already_is_adopted_not_created_twice(
    kube: tuple[FakeKubernetesApi, k8s.ApiClient],
) -> None:
    fake, api = kube
    run = flow_run(StateType.PENDING)
    agent, _, _ = make(api, [run])
    claimed = ClaimedRun(flow_run=run, deployment=deployment())
    agent.launch(claimed)

    handle = agent.launch(claimed)  # the 409 AlreadyExists

    assert handle.infrastructure_id == f"{NS}/{job_name(run)}"
    assert len(fake.jobs) == 1
    assert len(creates(fake)) == 2


def test_a_bad_setting_crashes_that_run_with_the_field_and_not_the_agent(
    kube: tuple[FakeKubernetesApi, k8s.ApiClient],
) -> None:
    fake, api = kube
    run = flow_run(StateType.PENDING)
    agent, fake_client, _ = make(api, [run], {"resources": {"limits": {"memory": "lots"}}})

    agent.tick()

    state = fake_client.state_of(run.id)
    assert state.type is StateType.CRASHED
    assert "resources.limits.memory" in (state.message or "")
    assert fake.jobs == {}
    assert agent.active == {}


def test_a_refused_create_crashes_the_run_with_the_api_s_answer(tmp_path: Path) -> None:
    fake = FakeKubernetesApi(token="another")
    with serve(fake) as url, connect(kubeconfig(url, tmp_path)) as api:
        run = flow_run(StateType.PENDING)
        agent, fake_client, _ = make(api, [run])
        agent.tick()

    state = fake_client.state_of(run.id)
    assert state.type is StateType.CRASHED
    assert "401" in (state.message or "")
    assert "RBAC" in (state.message or "")


def test_an_unreachable_cluster_is_logged_and_the_run_watched_again_not_the_agent_crashed(
    tmp_path: Path,
) -> None:
    fake = FakeKubernetesApi(token=TOKEN)
    with serve(fake) as url, connect(kubeconfig(url, tmp_path)) as api:
        run = flow_run(StateType.RUNNING)
        agent, fake_client, clock = make(api, [run])
        agent.tick()
    api.configuration.retries = 0  # the server is gone: fail fast, no urllib3 retries

    fake_client.move(run.id, State(type=StateType.CANCELLING))
    for _ in range(3):
        agent.tick()  # poll and delete both fail: logged, nothing raised
        clock.sleep(1.0)

    assert run.id in agent.active
    assert agent.active[run.id].handle.poll() is None


# --- two agents on one queue of the live API ----------------------------------------------


@pytest.mark.slow
def test_two_agents_on_one_queue_never_create_a_run_s_job_twice(
    client: StratoflowClient, home: Path, kube: tuple[FakeKubernetesApi, k8s.ApiClient]
) -> None:
    fake, api = kube
    queue = f"k8s-{uuid4().hex[:8]}"
    flow = client.create_flow(FlowCreate(name=f"flow-{uuid4().hex[:6]}"))
    dep = client.create_deployment(
        DeploymentCreate(
            flow_id=flow.id, name=f"test-{queue}", entrypoint="f.py:f", work_queue=queue,
            code=CodeImage(image="registry.example/etl:1"),
            infrastructure=InfrastructureType.KUBERNETES,
        )
    )  # fmt: skip
    runs = [client.create_deployment_run(dep.id, DeploymentRunCreate()).id for _ in range(12)]

    def make_agent(own: StratoflowClient, config: AgentConfig) -> KubernetesAgent:
        return KubernetesAgent(config, own, own.settings, api, job_defaults={"namespace": NS})

    def end_started() -> None:  # Jobs end, as they would
        for namespace, name in list(fake.jobs):
            fake.succeed(namespace, name)

    def launched() -> set[UUID]:
        return {UUID(n.removeprefix("stratoflow-")) for n in creates(fake)}

    held = contend(make_agent, client, home, queue, runs, end_started, launched)

    names = creates(fake)
    assert sorted(names) == sorted({f"stratoflow-{run}" for run in runs})  # each exactly once
    assert not held[0] & held[1]  # both agents launched runs, never the same one
