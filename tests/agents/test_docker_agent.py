"""The Docker agent: its pure parts (settings merge, container arguments), then real containers
on a real Docker daemon against the live API: a deployment runs to COMPLETED, a container killed
from outside is CRASHED with its exit code, a cancelled run's container is stopped (CANCELLED),
and an image that exists nowhere is CRASHED "image pull failed".

The daemon is started by a session fixture on a socket of its own (`dockerd` is installed from
Debian when missing and we are root); where it cannot start, the live tests skip saying why.
No registry is reachable, so the runtime image is imported from a tiny root filesystem and the
container bind-mounts this machine's Python and the workspace (the agent's `--volume`), and
shares the host's network so the API on 127.0.0.1 is reachable.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from stratoflow.client import StratoflowClient
from stratoflow.infrastructure import DockerSettings, InfraSettingsError, settings_for
from stratoflow.schemas import ClaimedRun, InfrastructureType, StateType
from stratoflow_agents import AgentConfig
from stratoflow_agents.docker import (
    FLOW_RUN_LABEL,
    DockerAgent,
    container_request,
    merged_overrides,
)
from tests import debian
from tests.agents.agent_support import flow_run
from tests.agents.live_support import (
    EXAMPLES,
    FAST,
    contend,
    in_state,
    looping,
    wait_for,
    zip_bundle,
)

docker = pytest.importorskip("docker", reason="the docker SDK (extra `docker`) is not installed")

SOCKET = Path("/tmp/sf-docker.sock")
DATA = Path("/tmp/sf-docker-data")
EXEC = Path("/tmp/sf-docker-exec")
PIDFILE = Path("/tmp/sf-docker.pid")
DAEMON_LOG = Path("/tmp/sf-dockerd.log")
LOCK = Path("/tmp/sf-docker.lock")
USERS = Path("/tmp/sf-docker-users")
"""One file per test session using the daemon (its pid): the last one to leave stops it."""
STARTED_BY_TESTS = Path("/tmp/sf-docker-started-by-tests")
"""There while the daemon on `SOCKET` is one the tests started (and so may stop)."""
IMAGE = "stratoflow-test-runtime:latest"
WORKSPACE = Path(__file__).resolve().parents[2]
PYTHON_HOME = Path(sys.base_prefix)


# --- pure parts ------------------------------------------------------------------------------


def claimed_run(overrides: dict[str, Any]) -> ClaimedRun:
    """A claimed run of a bundle deployment with `overrides`, as the API returns one."""
    from stratoflow.schemas import CodeBundle, Deployment, utcnow

    now = utcnow()
    deployment = Deployment.model_validate(
        {
            "id": uuid4(), "flow_id": uuid4(), "name": "d", "flow_name": "f",
            "entrypoint": "f.py:f",
            "work_queue": "q", "infra_overrides": overrides, "created": now, "updated": now,
            "code": CodeBundle(uri="s3://b/k.zip", sha256="0" * 64).model_dump(),
        }
    )  # fmt: skip
    return ClaimedRun(flow_run=flow_run(), deployment=deployment)


def test_the_agents_options_are_merged_under_the_deployments_settings() -> None:
    defaults = {"image": "agent:1", "network": None, "volumes": ["/a:/a"],
                "env": {"A": "agent", "B": "agent"}}  # fmt: skip
    merged = merged_overrides(defaults, {"image": "deploy:2", "env": {"B": "deploy"}})
    settings = settings_for(InfrastructureType.DOCKER, merged)
    assert isinstance(settings, DockerSettings)
    assert settings.image == "deploy:2"
    assert settings.env == {"A": "agent", "B": "deploy"}
    assert settings.volumes == ["/a:/a"]
    assert settings.network is None


@pytest.mark.parametrize("volume", ["nocolon", "/a:relative", "/a:/b:rx", ":/b"])
def test_a_bad_volume_is_refused_naming_the_field(volume: str) -> None:
    with pytest.raises(InfraSettingsError) as caught:
        settings_for(InfrastructureType.DOCKER, {"volumes": [volume]})
    assert caught.value.field == "volumes.0"


def test_the_container_gets_the_key_in_its_environment_only_and_the_host_network_for_loopback() -> (
    None
):
    claimed = claimed_run({"env": {"X": "1"}, "volumes": ["/data:/data:ro"]})
    settings = settings_for(InfrastructureType.DOCKER, claimed.deployment.infra_overrides)  # type: ignore[union-attr]
    assert isinstance(settings, DockerSettings)
    key = "sf_" + "k" * 40
    request = container_request(claimed, settings, "http://127.0.0.1:8080", key)
    run_id = str(claimed.flow_run.id)
    assert request["command"] == ["stratoflow", "execute", run_id]
    assert request["environment"]["STRATOFLOW_API_KEY"] == key
    assert request["environment"]["STRATOFLOW_FLOW_RUN_ID"] == run_id
    assert request["environment"]["X"] == "1"
    # the id the loop records on the run, so the engine's heartbeats repeat it, not `pid:1`
    infrastructure_id = request["environment"]["STRATOFLOW_INFRASTRUCTURE_ID"]
    assert infrastructure_id == f"container:stratoflow-{run_id}"
    assert key not in " ".join(request["command"])
    assert key not in str(request["labels"])
    assert request["labels"] == {FLOW_RUN_LABEL: run_id}
    assert request["name"] == f"stratoflow-{run_id}"
    assert request["network_mode"] == "host"
    assert request["volumes"] == ["/data:/data:ro"]
    remote = container_request(claimed, settings, "https://api.example.com", None)
    assert "network_mode" not in remote
    assert "STRATOFLOW_API_KEY" not in remote["environment"]


def test_a_deployment_network_replaces_the_host_network() -> None:
    claimed = claimed_run({"network": "flows"})
    settings = settings_for(InfrastructureType.DOCKER, {"network": "flows"})
    assert isinstance(settings, DockerSettings)
    request = container_request(claimed, settings, "http://localhost:8080", None)
    assert request["network"] == "flows"
    assert "network_mode" not in request


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [("--env", "NOEQUALS", "expected KEY=VALUE"), ("--volume", "relative", "volumes.0"),
     ("--env", "STRATOFLOW_API_KEY=x", "set by the launcher")],
)  # fmt: skip
def test_bad_docker_options_exit_2_naming_them(flag: str, value: str, says: str) -> None:
    from click.testing import CliRunner

    from stratoflow.cli import cli

    result = CliRunner().invoke(
        cli, ["--api-url", "http://api", "agent", "start", "--type", "docker", "-q", "q",
              flag, value],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert says in result.output


# --- a real daemon ---------------------------------------------------------------------------


def _daemon_client() -> Any:
    return docker.DockerClient(base_url=f"unix://{SOCKET}", timeout=60)


def _answers() -> bool:
    try:
        with contextlib.closing(_daemon_client()) as client:
            return bool(client.ping())
    except docker.errors.DockerException:
        return False


def _dockerd() -> str | None:
    """Where `dockerd` is: on PATH, or in the system folders a user's PATH may leave out."""
    return debian.find_binary("dockerd")


@contextlib.contextmanager
def _daemon_lock() -> Iterator[None]:
    """Held while a session starts the daemon or decides to stop it (pytest-xdist workers)."""
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _live_users() -> list[Path]:
    """The sessions still using the daemon (files of processes that died are removed)."""
    alive = []
    for user in USERS.glob("*"):
        try:
            os.kill(int(user.name), 0)
            alive.append(user)
        except (ValueError, ProcessLookupError):
            user.unlink(missing_ok=True)
    return alive


def _start_dockerd() -> str | None:
    """Start `dockerd` on `SOCKET`; None once it answers, else why it did not."""
    if (reason := debian.install("docker.io", "dockerd")) is not None:
        return reason
    for folder in (DATA, EXEC):
        folder.mkdir(parents=True, exist_ok=True)
    command = (
        f"ulimit -n 1024 -u 1024 2>/dev/null || ulimit -n 1024; exec {_dockerd()}"
        f" --host unix://{SOCKET} --data-root {DATA} --exec-root {EXEC} --pidfile {PIDFILE}"
        " --iptables=false --bridge=none"
    )
    with DAEMON_LOG.open("ab") as log:
        daemon = subprocess.Popen(
            ["sh", "-c", command], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while not _answers():
        if daemon.poll() is not None or time.monotonic() > deadline:
            tail = DAEMON_LOG.read_text(errors="replace")[-800:]
            daemon.kill()
            return f"dockerd did not start (exit {daemon.poll()}): {tail}"
        time.sleep(0.2)
    STARTED_BY_TESTS.touch()
    return None


def _stop_dockerd() -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(PIDFILE.read_text().strip()), signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _answers() and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[Any]:
    """A Docker daemon on a socket of its own: the one already there, else one started here.

    pytest-xdist workers share it: each session registers itself under `USERS`, and the last
    one to leave stops a daemon the tests started (never one that was there before them).
    Skips, saying why, when there is none.
    """
    USERS.mkdir(exist_ok=True)
    me = USERS / str(os.getpid())
    with _daemon_lock():
        ours = not _answers()
        if ours and (reason := _start_dockerd()) is not None:
            print(f"docker tests skipped: {reason}")
            pytest.skip(reason)
        me.touch()
    try:
        with contextlib.closing(_daemon_client()) as client:
            yield client
    finally:
        with _daemon_lock():
            me.unlink(missing_ok=True)
            if not _live_users() and STARTED_BY_TESTS.exists():
                _stop_dockerd()
                STARTED_BY_TESTS.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def runtime_image(docker_daemon: Any) -> str:
    """An image with nothing but mount points: `docker import` of a tiny root filesystem whose
    PATH finds this workspace's `stratoflow` (the agent bind-mounts Python and the workspace)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as rootfs:
        for name in ("tmp", "usr", "usr/lib", "usr/lib64", "etc", "root", "work"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            rootfs.addfile(info)
        for name, target in (("lib", "usr/lib"), ("lib64", "usr/lib64")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            rootfs.addfile(info)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        rootfs.addfile(info, io.BytesIO(passwd))
    repository, tag = IMAGE.split(":")
    docker_daemon.api.import_image_from_data(
        buffer.getvalue(), repository=repository, tag=tag,
        changes=[f"ENV PATH={WORKSPACE / '.venv' / 'bin'}:/usr/bin:/bin", "ENV HOME=/tmp"],
    )  # fmt: skip
    return IMAGE


def mounts() -> list[str]:
    """What a container needs of this machine to run the workspace's `stratoflow`."""
    paths = [Path("/usr/lib"), Path("/usr/lib64"), Path("/etc/ssl"), PYTHON_HOME, WORKSPACE]
    paths += _link_folders(WORKSPACE / ".venv" / "bin" / "python")
    unique = dict.fromkeys(p for p in paths if p.exists() and not _inside(p, WORKSPACE))
    return [f"{p}:{p}:ro" for p in [*unique, WORKSPACE]]


def _link_folders(path: Path) -> list[Path]:
    """The folders of every hop of `path`'s symlink chain (a venv's python may point through
    a shim folder, outside what the container otherwise sees, to the real interpreter)."""
    folders = []
    for _ in range(16):
        if not path.is_symlink():
            break
        path = path.parent / os.readlink(path)
        folders.append(path.parent)
    return folders


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


@contextlib.contextmanager
def docker_agent(
    client: StratoflowClient, queue: str, image: str, **kwargs: Any
) -> Iterator[DockerAgent]:
    """A Docker agent looping in a thread, stopped (and joined) at the end."""
    agent = DockerAgent(
        AgentConfig(work_queue=queue, **FAST), client, client.settings,  # type: ignore[arg-type]
        image=image, volumes=mounts(), docker_client=_daemon_client, **kwargs,
    )  # fmt: skip
    with looping(agent, join_timeout=30) as running:
        yield running


def start_run(client: StratoflowClient, queue: str, entrypoint: str) -> UUID:
    """Deploy an example as a Docker deployment (zip bundle) on `queue`; start one run."""
    return start_runs(client, queue, entrypoint, 1)[0]


def start_runs(client: StratoflowClient, queue: str, entrypoint: str, count: int) -> list[UUID]:
    """Deploy an example as a Docker deployment (zip bundle) on `queue`; start `count` runs."""
    from stratoflow.schemas import DeploymentCreate, DeploymentRunCreate, FlowCreate

    name = entrypoint.split(":")[0]
    flow = client.create_flow(FlowCreate(name=f"flow-{uuid4().hex[:6]}"))
    deployment = client.create_deployment(
        DeploymentCreate(
            flow_id=flow.id, name=f"test-{queue}", entrypoint=entrypoint, work_queue=queue,
            code=zip_bundle(client, {name: (EXAMPLES / name).read_bytes()}),
            infrastructure=InfrastructureType.DOCKER,
        )
    )  # fmt: skip
    return [client.create_deployment_run(deployment.id, DeploymentRunCreate()).id
            for _ in range(count)]  # fmt: skip


def container_of(daemon: Any, run_id: Any) -> Any:
    found: list[Any] = []

    def look() -> bool:
        found[:] = daemon.containers.list(filters={"label": f"{FLOW_RUN_LABEL}={run_id}"})
        return bool(found)

    wait_for(look, f"the container of {run_id}", timeout=60)
    return found[0]


def gone(daemon: Any, run_id: Any) -> bool:
    return not daemon.containers.list(all=True, filters={"label": f"{FLOW_RUN_LABEL}={run_id}"})


@pytest.mark.slow
def test_a_deployment_runs_to_completed_in_a_container(
    client: StratoflowClient, docker_daemon: Any, runtime_image: str
) -> None:
    queue = f"docker-{uuid4().hex[:8]}"
    run_id = start_run(client, queue, "etl.py:nightly_etl")
    with docker_agent(client, queue, runtime_image) as agent:
        container = container_of(docker_daemon, run_id)
        inspected = docker_daemon.api.inspect_container(container.id)
        wait_for(in_state(client, run_id, StateType.COMPLETED), "the run to complete", 120)
        wait_for(lambda: not agent.active, "the agent to reap the run")
    run = client.read_flow_run(run_id)
    assert run.infrastructure == "docker"
    assert run.agent_id == agent.agent_id
    assert client.list_task_runs(run_id).items  # the engine really ran in the container
    assert client.list_logs(run_id).items  # and its logs reached the API
    key = client.settings.api_key
    assert key
    assert f"STRATOFLOW_API_KEY={key}" in inspected["Config"]["Env"]
    assert key not in " ".join(inspected["Config"]["Cmd"]) + str(inspected["Config"]["Labels"])
    assert inspected["HostConfig"]["NetworkMode"] == "host"
    assert gone(docker_daemon, run_id)  # removed after its logs were read


@pytest.mark.slow
def test_a_container_killed_from_outside_is_crashed_with_its_exit_code(
    client: StratoflowClient, docker_daemon: Any, runtime_image: str
) -> None:
    queue = f"docker-{uuid4().hex[:8]}"
    run_id = start_run(client, queue, "sleepy_flow.py:sleepy")
    with docker_agent(client, queue, runtime_image) as agent:
        wait_for(in_state(client, run_id, StateType.RUNNING), "the run to start", 120)
        subprocess.run(
            [shutil.which("docker") or "docker", "kill", f"stratoflow-{run_id}"],
            check=True, capture_output=True, env={**os.environ, "DOCKER_HOST": f"unix://{SOCKET}"},
        )  # fmt: skip
        wait_for(in_state(client, run_id, StateType.CRASHED), "the crash to be reported", 60)
        wait_for(lambda: not agent.active, "the agent to reap the run")
    assert "exit code 137" in (client.read_flow_run(run_id).state.message or "")
    assert gone(docker_daemon, run_id)


@pytest.mark.slow
def test_a_cancelled_runs_container_is_stopped_and_the_run_ends_cancelled(
    client: StratoflowClient, docker_daemon: Any, runtime_image: str
) -> None:
    queue = f"docker-{uuid4().hex[:8]}"
    run_id = start_run(client, queue, "sleepy_flow.py:sleepy")
    with docker_agent(client, queue, runtime_image) as agent:
        wait_for(in_state(client, run_id, StateType.RUNNING), "the run to start", 120)
        container = container_of(docker_daemon, run_id)
        client.cancel_flow_run(run_id)
        wait_for(lambda: run_id not in agent.active, "the agent to stop the run", 60)
    assert client.read_flow_run(run_id).state.type is StateType.CANCELLED
    with pytest.raises(docker.errors.NotFound):
        container.reload()  # stopped and removed


@pytest.mark.slow
def test_an_image_that_exists_nowhere_crashes_the_run_with_image_pull_failed(
    client: StratoflowClient, docker_daemon: Any, runtime_image: str
) -> None:
    queue = f"docker-{uuid4().hex[:8]}"
    run_id = start_run(client, queue, "etl.py:nightly_etl")
    missing = f"127.0.0.1:9/nowhere/missing-{uuid4().hex[:6]}:1"
    with docker_agent(client, queue, missing) as agent:
        wait_for(in_state(client, run_id, StateType.CRASHED), "the crash to be reported", 120)
        wait_for(lambda: not agent.active, "the agent to reap the run")
    message = client.read_flow_run(run_id).state.message or ""
    assert "image pull failed" in message
    assert missing.rpartition(":")[0] in message


@pytest.mark.slow
def test_a_restarted_agent_adopts_the_container_a_dead_agent_left_running(
    client: StratoflowClient, docker_daemon: Any, runtime_image: str
) -> None:
    from stratoflow.schemas import ClaimRequest

    queue = f"docker-{uuid4().hex[:8]}"
    run_id = start_run(client, queue, "sleepy_flow.py:sleepy")
    dead = DockerAgent(
        AgentConfig(work_queue=queue, **FAST), client, client.settings,  # type: ignore[arg-type]
        image=runtime_image, volumes=mounts(), docker_client=_daemon_client,
    )  # fmt: skip
    request = ClaimRequest(agent_id=dead.agent_id, limit=1, infrastructure=[dead.infrastructure])
    (claimed,) = client.claim_runs(queue, request).runs
    first = dead.launch(claimed)  # the agent then "dies": nobody loops over its run
    again = dead.launch(claimed)  # a second launch of the same run finds the first (409)
    assert again.container.id == first.container.id
    wait_for(in_state(client, run_id, StateType.RUNNING), "the run to start", 120)
    with docker_agent(client, queue, runtime_image) as agent:
        wait_for(lambda: run_id in agent.active, "the new agent to adopt the run")
        first.container.kill()
        wait_for(in_state(client, run_id, StateType.CRASHED), "the crash to be reported", 60)
        wait_for(lambda: not agent.active, "the agent to reap the run")
    assert "exit code 137" in (client.read_flow_run(run_id).state.message or "")
    assert gone(docker_daemon, run_id)


@pytest.mark.slow
def test_two_agents_on_one_queue_never_start_a_runs_container_twice(
    client: StratoflowClient, home: Path, docker_daemon: Any, runtime_image: str
) -> None:
    queue = f"docker-{uuid4().hex[:8]}"
    runs = start_runs(client, queue, "sleepy_flow.py:sleepy", 10)
    wanted = {str(run) for run in runs}
    since = int(time.time()) - 1

    def make_agent(own: StratoflowClient, config: AgentConfig) -> DockerAgent:
        return DockerAgent(
            config, own, own.settings, image=runtime_image, volumes=mounts(),
            docker_client=_daemon_client,
        )  # fmt: skip

    def ours() -> list[Any]:
        found = docker_daemon.containers.list(filters={"label": FLOW_RUN_LABEL})
        return [c for c in found if c.labels.get(FLOW_RUN_LABEL) in wanted]

    def end_started() -> None:  # containers die, as they may
        for container in ours():
            with contextlib.suppress(docker.errors.APIError):
                container.kill()

    def created() -> list[str]:  # what the daemon itself says was created, once per container
        events = docker_daemon.events(
            since=since, until=int(time.time()) + 1, decode=True,
            filters={"type": "container", "event": "create", "label": FLOW_RUN_LABEL},
        )  # fmt: skip
        labels = (event.get("Actor", {}).get("Attributes", {}) for event in events)
        return [run for run in (a.get(FLOW_RUN_LABEL) for a in labels) if run in wanted]

    held = contend(make_agent, client, home, queue, runs, end_started,
                   lambda: {UUID(run) for run in created()})  # fmt: skip

    assert sorted(created()) == sorted(wanted)  # each run's container created exactly once
    assert not held[0] & held[1]  # both agents launched runs, never the same one
