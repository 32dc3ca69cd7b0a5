"""`DockerAgent`: runs each claimed flow run as a container, `stratoflow execute <run id>`.

The container is named `stratoflow-<run id>` and labelled `stratoflow.io/flow-run-id`, so a
second launch of the same run adopts the container already there (409 Conflict) and a restarted
agent finds its runs again (`recover`). Its environment is `launch_environment` (API URL, run id,
the deployment's `env`), `STRATOFLOW_INFRASTRUCTURE_ID` (`container:<name>`, the id the run
gets) and `STRATOFLOW_API_KEY`: the key is in the container's environment only,
never on its command line nor in a label (anyone who can `docker inspect` it can read it, as
anyone with the Docker socket can do anything on the host). When the API URL is on the loopback
interface and no network is set, the container shares the host's network (`network_mode=host`)
so `127.0.0.1` is the same host inside.

The agent's own options (`--image`, `--network`, `--volume`, `--env`) are merged UNDER the
deployment's `infra_overrides` and validated with `settings_for`. An image that is not local is
pulled in a thread (the loop keeps heartbeating); a pull that fails ends the run CRASHED "image
pull failed: ...". The `docker` SDK (extra `docker`) is imported only when the agent is made.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit
from uuid import UUID

from stratoflow.client.settings import ClientSettings
from stratoflow.infrastructure import (
    INFRASTRUCTURE_ID_ENV,
    DockerSettings,
    InfraSettingsError,
    execute_command,
    image_for,
    launch_environment,
    settings_for,
)
from stratoflow.infrastructure.environment import DEFAULT_RUNTIME_IMAGE
from stratoflow.schemas import ClaimedRun, InfrastructureType
from stratoflow_agents.base import BaseAgent
from stratoflow_agents.config import AgentConfig
from stratoflow_agents.errors import AgentError, LaunchError, job_settings
from stratoflow_agents.handles import RunHandle
from stratoflow_agents.reporting import AgentClient

logger = logging.getLogger("stratoflow.agent")

FLOW_RUN_LABEL = "stratoflow.io/flow-run-id"
"""The label that names the flow run a container executes."""
LOG_LINES = 20
"""How many of a container's last log lines a CRASHED message carries."""
LAUNCH_FAILED = 125
"""The exit code reported for a container that could not be made (as `docker run` does)."""
GONE = 137
"""The exit code reported for a container removed from outside before it was seen to end."""


def container_name(flow_run_id: UUID | str) -> str:
    """`stratoflow-<run id>`: one container per run, so a second launch finds the first."""
    return f"stratoflow-{flow_run_id}"


def container_id(flow_run_id: UUID | str) -> str:
    """The run's infrastructure id, `container:stratoflow-<run id>`: what the handle names and
    the container's `STRATOFLOW_INFRASTRUCTURE_ID`, so the engine's heartbeats repeat it."""
    return f"container:{container_name(flow_run_id)}"


def merged_overrides(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The agent's defaults UNDER the deployment's overrides: `env` merged by name (the
    deployment's value wins), every other setting replaced by the deployment's."""
    merged = {key: value for key, value in defaults.items() if value not in (None, [], {})}
    for key, value in overrides.items():
        if key == "env" and isinstance(value, Mapping):
            merged["env"] = {**merged.get("env", {}), **value}
        else:
            merged[key] = value
    return merged


def is_loopback(api_url: str) -> bool:
    """Whether `api_url` points at this host's loopback interface (127.0.0.1, ::1, localhost)."""
    host = urlsplit(api_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def container_request(
    claimed: ClaimedRun,
    settings: DockerSettings,
    api_url: str,
    api_key: str | None,
    *,
    default_image: str = DEFAULT_RUNTIME_IMAGE,
) -> dict[str, Any]:
    """The keyword arguments of `containers.create` for one claimed run (pure).

    Raises:
        InfraSettingsError: the deployment's env names a variable the launcher sets.
    """
    run_id = claimed.flow_run.id
    image = (
        image_for(claimed.deployment, settings, default_image=default_image)
        if claimed.deployment is not None
        else settings.image or default_image
    )
    environment = launch_environment(api_url, run_id, settings.env)
    environment[INFRASTRUCTURE_ID_ENV] = container_id(run_id)  # the engine heartbeats it
    if api_key:
        environment["STRATOFLOW_API_KEY"] = api_key  # the environment only: see module doc
    request: dict[str, Any] = {
        "image": image,
        "command": execute_command(run_id),
        "name": container_name(run_id),
        "environment": environment,
        "labels": {FLOW_RUN_LABEL: str(run_id)},
        "detach": True,
    }
    if settings.network:
        request["network"] = settings.network
    elif is_loopback(api_url):
        request["network_mode"] = "host"  # so 127.0.0.1 inside is the API's host
    if settings.volumes:
        request["volumes"] = list(settings.volumes)
    return request


class DockerRunHandle(RunHandle):
    """One run's container; while its image is pulled (in a thread), the launch itself.

    Args:
        client: the agent's `docker.DockerClient` (used from the agent's thread only).
        name: the container's name.
    """

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self.name = name
        self.container: Any = None
        self._launch_error: str | None = None
        self._thread: threading.Thread | None = None
        self._stop_requested = False
        self._logs: str | None = None

    @classmethod
    def adopted(cls, client: Any, container: Any) -> DockerRunHandle:
        """A handle of a container an earlier agent started."""
        handle = cls(client, container.name)
        handle.container = container
        return handle

    @property
    def infrastructure_id(self) -> str:
        """`container:<name>` (see `container_id`)."""
        return f"container:{self.name}"

    # --- launching --------------------------------------------------------------------------

    def launch(self, request: Mapping[str, Any], pull_client: Callable[[], Any]) -> None:
        """Create and start the container now if its image is here, else pull it in a thread
        (with a client of its own from `pull_client`) and then create and start it."""
        import docker.errors

        try:
            self._client.images.get(request["image"])
        except docker.errors.ImageNotFound:
            self._thread = threading.Thread(
                target=self._pull_and_start, args=(request, pull_client),
                name=f"pull-{self.name}", daemon=True,
            )  # fmt: skip
            self._thread.start()
            return
        except docker.errors.APIError as exc:
            raise LaunchError(f"docker: {exc}") from exc
        try:
            self.container = _create_and_start(self._client, request)
        except docker.errors.APIError as exc:
            raise LaunchError(f"docker: {exc}") from exc

    def _pull_and_start(self, request: Mapping[str, Any], pull_client: Callable[[], Any]) -> None:
        import docker.errors

        try:
            client = pull_client()
        except docker.errors.DockerException as exc:
            self._launch_error = f"image pull failed: {exc}"
            return
        try:
            client.images.pull(request["image"])
        except docker.errors.APIError as exc:  # ImageNotFound is one
            self._launch_error = f"image pull failed: {request['image']}: {_explain(exc)}"
            return
        try:
            if not self._stop_requested:
                self.container = _create_and_start(client, request)
        except docker.errors.APIError as exc:
            self._launch_error = f"docker: {_explain(exc)}"
        finally:
            client.close()

    # --- the RunHandle contract -------------------------------------------------------------

    def poll(self) -> int | None:
        """The container's exit code once it has exited (its last logs kept first); None while
        it runs or its image is being pulled."""
        import docker.errors

        if self._thread is not None and self._thread.is_alive():
            return None
        if self._launch_error is not None:
            return LAUNCH_FAILED
        if self.container is None:
            return GONE  # stopped before it was ever started
        try:
            self.container.reload()
        except docker.errors.NotFound:
            self._logs = self._logs or f"container {self.name} no longer exists"
            return GONE
        except docker.errors.APIError as exc:
            logger.warning("%s: cannot read the container: %s", self.name, exc)
            return None
        if self.container.status not in ("exited", "dead"):
            return None
        self._capture_logs()
        return int(self.container.attrs.get("State", {}).get("ExitCode", GONE))

    def terminate(self) -> None:
        """SIGTERM to the container's main process (returns at once; the loop kills after its
        grace if it is still running)."""
        self._stop_requested = True
        self._signal("SIGTERM")

    def kill(self) -> None:
        """SIGKILL to the container."""
        self._stop_requested = True
        self._signal(None)

    def failure_detail(self) -> str | None:
        """Why the launch failed, or the container's last log lines."""
        if self._launch_error is not None:
            return self._launch_error
        self._capture_logs()
        return self._logs or None

    def cleanup(self) -> None:
        """Remove the container, its last logs captured first."""
        import docker.errors

        self._stop_requested = True
        if self.container is None:
            return
        self._capture_logs()
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            self.container.remove(force=True)

    def _signal(self, name: str | None) -> None:
        import docker.errors

        if self.container is None:
            return  # still pulling: `_stop_requested` keeps it from starting
        # NotFound: removed; 409: not running any more. Either way nothing to stop.
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            if name is None:
                self.container.kill()
            else:
                self.container.kill(signal=name)

    def _capture_logs(self) -> None:
        import docker.errors

        if self._logs is not None or self.container is None:
            return
        try:
            raw = self.container.logs(stdout=True, stderr=True, tail=LOG_LINES)
        except (docker.errors.NotFound, docker.errors.APIError):
            return
        self._logs = raw.decode(errors="replace").strip()


def _create_and_start(client: Any, request: Mapping[str, Any]) -> Any:
    """Create and start the container; one already there for the run (409) is adopted."""
    import docker.errors

    try:
        container = client.containers.create(**request)
    except docker.errors.APIError as exc:
        if exc.status_code != 409:
            raise
        container = client.containers.get(request["name"])
        logger.info("%s already exists: adopted", request["name"])
    if container.status == "created":
        container.start()
    return container


def _explain(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or exc)


class DockerAgent(BaseAgent):
    """Runs flow runs as Docker containers: `stratoflow execute <flow-run-id>`.

    Args:
        config: how to poll, watch and stop runs.
        client: the API.
        settings: the API settings handed to each container (URL, key).
        image: the image of runs whose settings and deployment name none.
        network: the Docker network runs join (default: none, or the host's for a loopback API).
        volumes: `HOST:CONTAINER[:ro|rw]` mounts every run gets.
        env: environment variables every run gets (the deployment's win).
        docker_client: how to make a `docker.DockerClient` (default `docker.from_env`); called
            once for the loop and once per image pull.
        **kwargs: clock, sleep, rand, agent_id (see `BaseAgent`).
    """

    infrastructure: ClassVar[InfrastructureType] = InfrastructureType.DOCKER

    def __init__(
        self,
        config: AgentConfig,
        client: AgentClient,
        settings: ClientSettings,
        *,
        image: str | None = None,
        network: str | None = None,
        volumes: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        docker_client: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, client, **kwargs)
        self.settings = settings
        self.defaults: dict[str, Any] = {
            "image": image, "network": network, "volumes": list(volumes), "env": dict(env or {}),
        }  # fmt: skip
        settings_for(InfrastructureType.DOCKER, self.defaults)  # bad agent options fail here
        if docker_client is None:
            try:
                import docker
            except ImportError as exc:
                raise AgentError(
                    f"the docker agent needs the docker SDK: pip install "
                    f"'stratoflow-agents[docker]' ({exc})"
                ) from exc
            docker_client = docker.from_env
        self._make_client = docker_client
        self._docker: Any = None

    @property
    def docker(self) -> Any:
        """The Docker client the loop uses (made on first use)."""
        if self._docker is None:
            import docker.errors

            try:
                self._docker = self._make_client()
                self._docker.ping()
            except docker.errors.DockerException as exc:
                raise AgentError(f"cannot reach the Docker daemon: {exc}") from exc
        return self._docker

    def prepare(self) -> None:
        """Check that the Docker daemon answers.

        Raises:
            AgentError: it does not.
        """
        _ = self.docker

    def release(self) -> None:
        """Close the Docker client."""
        if self._docker is not None:
            self._docker.close()

    def job_settings(self, claimed: ClaimedRun) -> DockerSettings:
        """The run's settings: the agent's options under the deployment's overrides.

        Raises:
            LaunchError: they are not valid Docker settings.
        """
        overrides = claimed.deployment.infra_overrides if claimed.deployment else {}
        values = merged_overrides(self.defaults, overrides)
        return job_settings(InfrastructureType.DOCKER, values, DockerSettings)

    def launch(self, claimed: ClaimedRun) -> DockerRunHandle:
        """Create and start the run's container (or adopt the one already there).

        Raises:
            LaunchError: bad settings, or the daemon refused the container.
        """
        if not self.settings.api_url:
            raise LaunchError("no API URL to hand to the container")
        settings = self.job_settings(claimed)
        try:
            request = container_request(
                claimed, settings, self.settings.api_url, self.settings.api_key
            )
        except InfraSettingsError as exc:
            raise LaunchError(str(exc)) from exc
        handle = DockerRunHandle(self.docker, request["name"])
        handle.launch(request, self._make_client)
        return handle

    def recover(self) -> dict[UUID, RunHandle]:
        """The containers labelled with a flow run id, running or not (the loop adopts the
        open runs and cleans up the others)."""
        found: dict[UUID, RunHandle] = {}
        containers = self.docker.containers.list(all=True, filters={"label": FLOW_RUN_LABEL})
        for container in containers:
            try:
                run_id = UUID(container.labels[FLOW_RUN_LABEL])
            except (KeyError, ValueError):
                continue
            found[run_id] = DockerRunHandle.adopted(self.docker, container)
        return found
