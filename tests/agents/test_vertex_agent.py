"""The Vertex agent with the real `google.cloud.aiplatform_v1` client (REST transport) against
the in-process fake JobService (tests/fakes/vertex_api.py), on a fake clock and a fake API; and
two agents on one queue of the live API, which never create a run's CustomJob twice."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from stratoflow.client import StratoflowClient
from stratoflow.schemas import (
    ClaimedRun,
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
from tests.agents.agent_support import FakeClient, FakeClock, flow_run
from tests.agents.live_support import contend
from tests.fakes.vertex_api import FakeVertexApi
from tests.fakes.wire import serve

aiplatform_v1 = pytest.importorskip(
    "google.cloud.aiplatform_v1",
    reason="google-cloud-aiplatform (the agents' vertex extra) is not installed",
)
from google.auth.credentials import AnonymousCredentials  # noqa: E402 - after the importorskip

from stratoflow_agents.vertex import VertexAgent, VertexRunHandle  # noqa: E402

PROJECT, REGION = "proj-1", "europe-west4"
PARENT = f"/v1/projects/{PROJECT}/locations/{REGION}/customJobs"
API_URL = "https://api.example.test"


@dataclass
class Rig:
    fake: FakeVertexApi
    agent: VertexAgent
    client: FakeClient
    clock: FakeClock
    regions: list[str]

    def claim(self, overrides: dict[str, Any] | None = None) -> FlowRun:
        """Hand the agent one run of a Vertex deployment and let it launch it."""
        now = utcnow()
        deployment = Deployment(
            id=uuid4(), flow_id=uuid4(), flow_name="f", name="d", entrypoint="flows.py:f",
            infrastructure="vertex", infra_overrides=overrides or {}, created=now, updated=now,
        )  # fmt: skip
        run = flow_run(work_queue=self.agent.config.work_queue).model_copy(
            update={"deployment_id": deployment.id}
        )
        self.client.runs[run.id] = run
        self.agent._start(ClaimedRun(flow_run=run, deployment=deployment), self.clock.now)
        return run

    def job_of(self, run: FlowRun) -> str:
        return self.agent.active[run.id].handle.infrastructure_id

    def creates(self) -> list[dict[str, Any]]:
        return [body or {} for m, path, _, body in self.fake.requests
                if m == "POST" and path == PARENT]  # fmt: skip


@pytest.fixture
def rig() -> Iterator[Rig]:
    fake = FakeVertexApi()  # no auth: the client's credentials are anonymous
    with serve(fake) as url:
        regions: list[str] = []

        def job_client(region: str) -> Any:
            regions.append(region)
            return aiplatform_v1.JobServiceClient(
                transport="rest",
                client_options={"api_endpoint": url},
                credentials=AnonymousCredentials(),
            )

        clock = FakeClock()
        client = FakeClient(clock)
        config = AgentConfig(work_queue="GPU.jobs", backoff_jitter=0.0)
        agent = VertexAgent(
            config, client, API_URL, project=PROJECT, region=REGION, job_clients=job_client,
            poll_every=0.0, clock=clock, sleep=clock.sleep, rand=lambda: 0.0,
        )  # fmt: skip
        yield Rig(fake, agent, client, clock, regions)


def test_launch_creates_the_builders_job_with_the_run_and_queue_labels(rig: Rig) -> None:
    run = rig.claim({"machine_type": "n1-highmem-8", "env": {"MODE": "x"}, "image": "gcr.io/p/i:1"})

    [body] = rig.creates()
    assert rig.job_of(run) == f"projects/{PROJECT}/locations/{REGION}/customJobs/1000"
    assert body["displayName"] == f"stratoflow-{run.id}"
    assert body["labels"]["stratoflow-flow-run-id"] == str(run.id)
    assert body["labels"]["stratoflow-work-queue"] == "gpu-jobs"
    [pool] = body["jobSpec"]["workerPoolSpecs"]
    assert pool["machineSpec"]["machineType"] == "n1-highmem-8"
    container = pool["containerSpec"]
    assert container["imageUri"] == "gcr.io/p/i:1"
    assert container["command"] == ["stratoflow", "execute", str(run.id)]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env == {"STRATOFLOW_API_URL": API_URL, "STRATOFLOW_FLOW_RUN_ID": str(run.id),
                   "MODE": "x"}  # fmt: skip


def test_a_deployments_region_wins_over_the_agents(rig: Rig) -> None:
    rig.claim({"region": "us-east1", "project": "other"})

    assert rig.regions == ["us-east1"]
    assert any(path.startswith("/v1/projects/other/locations/us-east1/") for _, path, _, _ in
               rig.fake.requests)  # fmt: skip


def test_a_second_launch_of_the_run_reuses_its_live_job(rig: Rig) -> None:
    run = rig.claim()
    first = rig.job_of(run)
    rig.fake.run(first)
    del rig.agent.active[run.id]

    rig.agent._start(ClaimedRun(flow_run=run, deployment=_deployment_of(rig, run)), 0.0)

    assert rig.job_of(run) == first
    assert len(rig.creates()) == 1


def _deployment_of(rig: Rig, run: FlowRun) -> Deployment:
    now = utcnow()
    return Deployment(
        id=run.deployment_id or uuid4(), flow_id=uuid4(), flow_name="f", name="d",
        entrypoint="flows.py:f", infrastructure="vertex", created=now, updated=now,
    )  # fmt: skip


def test_a_bad_setting_crashes_the_run_naming_the_field(rig: Rig) -> None:
    run = rig.claim({"machine_typo": "x"})

    assert run.id not in rig.agent.active
    assert rig.creates() == []
    state = rig.client.state_of(run.id)
    assert state.type is StateType.CRASHED
    assert "machine_typo" in (state.message or "")


def test_a_succeeded_job_exits_0_and_leaves_the_completed_run_alone(rig: Rig) -> None:
    run = rig.claim()
    handle = rig.agent.active[run.id].handle
    rig.fake.run(rig.job_of(run))
    rig.agent.tick()
    assert run.id in rig.agent.active  # still running: nothing recorded
    rig.client.move(run.id, State(type=StateType.COMPLETED))  # the engine in the job did this

    rig.fake.succeed(handle.infrastructure_id)
    rig.agent.tick()

    assert handle.poll() == 0
    assert run.id not in rig.agent.active
    assert rig.client.proposals == []


def test_a_failed_job_crashes_the_run_with_its_message(rig: Rig) -> None:
    run = rig.claim()
    rig.fake.fail(rig.job_of(run), "The replica workerpool0-0 exited with a non-zero status of 1.")

    rig.agent.tick()

    state = rig.client.state_of(run.id)
    assert state.type is StateType.CRASHED
    assert "exited with a non-zero status of 1" in (state.message or "")
    assert run.id not in rig.agent.active


def test_a_quota_failure_is_named_as_quota(rig: Rig) -> None:
    run = rig.claim()
    rig.fake.fail(rig.job_of(run), "Insufficient resources for custom_model_training_cpus", 8)

    rig.agent.tick()

    assert "quota exceeded: Insufficient resources" in (rig.client.state_of(run.id).message or "")


def test_an_expired_job_is_a_crash_and_a_cancelled_one_a_sigterm(rig: Rig) -> None:
    expired, cancelled = rig.claim(), rig.claim()
    rig.fake.expire(rig.job_of(expired))
    handle = rig.agent.active[cancelled.id].handle
    handle.terminate()

    assert rig.agent.active[expired.id].handle.poll() == 1
    assert "expired before it ran" in (rig.agent.active[expired.id].handle.failure_detail() or "")
    assert handle.poll() == -15


def test_cancelling_the_run_cancels_its_job(rig: Rig) -> None:
    run = rig.claim()
    job = rig.job_of(run)
    rig.client.move(run.id, State(type=StateType.CANCELLING))
    rig.clock.now += rig.agent.config.cancel_check_interval

    rig.agent.tick()  # sees CANCELLING: records CANCELLED, cancels the job
    rig.agent.tick()  # reaps it

    assert rig.fake.cancels == [job]
    assert ("POST", f"/v1/{job}:cancel") in [(m, p) for m, p, _, _ in rig.fake.requests]
    assert rig.client.state_of(run.id).type is StateType.CANCELLED
    assert run.id not in rig.agent.active


def test_cancelling_a_job_that_ended_or_vanished_is_done(rig: Rig) -> None:
    ended, gone = rig.claim(), rig.claim()
    rig.fake.succeed(rig.job_of(ended))
    rig.fake.vanish(rig.job_of(gone))
    statuses = []
    for run in (ended, gone):
        rig.agent.active[run.id].handle.kill()  # 400 FAILED_PRECONDITION, then 404: no raise
        statuses.append(rig.fake.requests[-1][1].endswith(":cancel"))

    assert statuses == [True, True]
    assert rig.fake.cancels == []
    assert rig.agent.active[gone.id].handle.poll() == 1
    assert "disappeared" in (rig.agent.active[gone.id].handle.failure_detail() or "")


def test_a_restarted_agent_finds_its_queues_running_jobs(rig: Rig) -> None:
    running, queued, done = rig.claim(), rig.claim(), rig.claim()
    rig.fake.run(rig.job_of(running))
    rig.fake.succeed(rig.job_of(done))
    other_queue = VertexAgent(
        AgentConfig(work_queue="other"), rig.client, API_URL, project=PROJECT, region=REGION,
        job_clients=rig.agent._job_clients,
    )  # fmt: skip

    found = rig.agent.recover()

    assert {run_id: h.infrastructure_id for run_id, h in found.items()} == {
        running.id: rig.job_of(running),
        queued.id: rig.job_of(queued),
    }
    assert all(isinstance(h, VertexRunHandle) for h in found.values())
    assert other_queue.recover() == {}
    filters = [
        q.get("filter", "") for m, p, q, _ in rig.fake.requests if m == "GET" and p == PARENT
    ]
    assert "labels.stratoflow-flow-run-id:*" in filters[-2]


def test_a_restarted_agent_adopts_the_found_run_and_reports_its_end(rig: Rig) -> None:
    run = rig.claim()
    job = rig.job_of(run)
    rig.client.move(run.id, State(type=StateType.RUNNING))
    rig.agent.active.clear()  # the agent died

    rig.agent.adopt(rig.agent.recover())
    rig.fake.fail(job, "boom")
    rig.agent.tick()

    assert "the CustomJob failed: boom" in (rig.client.state_of(run.id).message or "")


def test_no_project_anywhere_crashes_the_run_saying_so(rig: Rig) -> None:
    rig.agent.defaults.pop("project")
    run = rig.claim()

    assert "--project" in (rig.client.state_of(run.id).message or "")
    assert rig.agent.recover() == {}


# --- the command line -----------------------------------------------------------------------


def test_agent_start_vertex_with_a_bad_region_exits_2_naming_it() -> None:
    from click.testing import CliRunner

    from stratoflow.cli import cli

    result = CliRunner().invoke(cli, ["--api-url", "http://api", "agent", "start", "--type",
                                      "vertex", "-q", "q", "--region", "Mars"])  # fmt: skip

    assert result.exit_code == 2
    assert "region" in result.output


def test_the_cli_builds_a_vertex_agent_with_its_project_and_region() -> None:
    from stratoflow.client import StratoflowClient
    from stratoflow.client.settings import ClientSettings
    from stratoflow_agents.agent_types import build_agent

    settings = ClientSettings(api_url="http://api:4200")
    with StratoflowClient(settings) as client:
        built = build_agent(
            InfrastructureType.VERTEX, AgentConfig(), client, settings,
            {"project": PROJECT, "region": None},
        )  # fmt: skip

    assert isinstance(built, VertexAgent)
    assert (built.api_url, built.defaults) == ("http://api:4200", {"project": PROJECT})


def test_an_unreachable_vertex_crashes_the_launch_and_is_retried_by_a_poll(rig: Rig) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    unreachable = aiplatform_v1.JobServiceClient(
        transport="rest", client_options={"api_endpoint": closed},
        credentials=AnonymousCredentials(),
    )  # fmt: skip
    rig.agent._clients[REGION] = unreachable
    run = rig.claim()
    handle = VertexRunHandle(unreachable, f"projects/{PROJECT}/locations/{REGION}/customJobs/1")

    assert "Vertex AI could not be called" in (rig.client.state_of(run.id).message or "")
    assert handle.poll() is None  # logged; read again on a later tick
    handle.terminate()  # never raises
    assert rig.agent.recover() == {}


# --- two agents on one queue of the live API ------------------------------------------------


@pytest.mark.slow
def test_two_agents_on_one_queue_never_create_a_run_s_custom_job_twice(
    client: StratoflowClient, home: Path
) -> None:
    fake = FakeVertexApi()
    queue = f"vertex-{uuid4().hex[:8]}"
    flow = client.create_flow(FlowCreate(name=f"flow-{uuid4().hex[:6]}"))
    dep = client.create_deployment(
        DeploymentCreate(
            flow_id=flow.id, name=f"test-{queue}", entrypoint="f.py:f", work_queue=queue,
            code=CodeImage(image="gcr.io/p/etl:1"), infrastructure=InfrastructureType.VERTEX,
        )
    )  # fmt: skip
    runs = [client.create_deployment_run(dep.id, DeploymentRunCreate()).id for _ in range(12)]

    def created() -> list[UUID]:
        """The run id of every CustomJob POSTed to the fake (refused ones included)."""
        return [UUID((body or {})["labels"]["stratoflow-flow-run-id"])
                for m, path, _, body in list(fake.requests)
                if m == "POST" and path == PARENT]  # fmt: skip

    with serve(fake) as url:

        def make_agent(own: StratoflowClient, config: AgentConfig) -> VertexAgent:
            def job_client(region: str) -> Any:
                return aiplatform_v1.JobServiceClient(
                    transport="rest", client_options={"api_endpoint": url},
                    credentials=AnonymousCredentials(),
                )  # fmt: skip

            return VertexAgent(
                config, own, API_URL, project=PROJECT, region=REGION, job_clients=job_client,
                poll_every=0.0,
            )  # fmt: skip

        def end_started() -> None:  # jobs end, as they would
            for name, job in list(fake.jobs.items()):
                if job["state"] == "JOB_STATE_PENDING":
                    fake.succeed(name)

        held = contend(make_agent, client, home, queue, runs, end_started, created)

    assert sorted(created()) == sorted(runs)  # each exactly once
    # A launch first looks for the run's live job (and would reuse it): once per run too.
    looked_up = [q.get("filter", "") for m, path, q, _ in fake.requests
                 if m == "GET" and path == PARENT and '-id="' in q.get("filter", "")]  # fmt: skip
    assert sorted(looked_up) == sorted(f'labels.stratoflow-flow-run-id="{r}"' for r in runs)
    assert not held[0] & held[1]  # both agents launched runs, never the same one
