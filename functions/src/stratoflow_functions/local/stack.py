"""The local stack put together (SPEC 8): API, emulator, Towel timers, stream publisher and the
local agent, started in dependency order and stopped in reverse.

Start order: bind the API port (a busy port fails here, before anything is touched), make the
home owner-only and lock the data folder (one stack per `$STRATOFLOW_HOME`; everything under it
is 0700/0600, `private_files.py`), start the emulator (restoring saved state),
create the table and buckets if missing, write the profile, make the push-launch machinery
(`launchers.py`: state machines, functions, cluster, the launched runs' key; when the launchers
package is installed), then start the stream publisher, the timers, the API server and the
agent. `stop()` undoes it all and is safe to call twice.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import importlib.util
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stratoflow.schemas import utcnow
from stratoflow_functions.api import ApiApp, ApiDeps
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import StratoflowError
from stratoflow_functions.local.agent import AgentSupervisor, agent_command, agents_available
from stratoflow_functions.local.bootstrap import ensure_buckets, ensure_profile, ensure_table
from stratoflow_functions.local.emulator import Emulator, RestoreReport
from stratoflow_functions.local.http import ApiHttpServer
from stratoflow_functions.local.launchers import LocalLaunchers, start_launchers
from stratoflow_functions.local.private_files import open_private, secure_home
from stratoflow_functions.local.stream import StreamPublisher
from stratoflow_functions.local.timers import Cadences, Job, Timers, towel_jobs
from stratoflow_functions.store import build_store

logger = logging.getLogger(__name__)


class LocalStackError(StratoflowError):
    """The local stack cannot start (a busy port, a data folder in use)."""

    code = "local_stack_unavailable"


@dataclass(frozen=True)
class LocalOptions:
    """How to run the local stack (read once from flags and environment by the CLI)."""

    home: Path
    host: str = "127.0.0.1"
    port: int = 4200
    cadences: Cadences = field(default_factory=Cadences)
    compact_after: int = 2_000
    """Log entries after which the emulator's log is compacted into a snapshot."""
    fsync: bool = False
    """fsync every logged write (survives power loss, not only process death; slower)."""
    agent: bool = True
    work_queue: str = "default"
    launchers: bool = True
    """Whether `ecs` and `lambda` runs are pushed (state machines, functions, containers)."""
    agent_env: Mapping[str, str] = field(default_factory=dict)
    """The environment the agent gets (the user's, not the stack's emulator credentials)."""

    @property
    def data_dir(self) -> Path:
        """Where the emulator keeps its state."""
        return self.home / "local"

    @property
    def profile(self) -> Path:
        """The profile file the stack writes."""
        return self.home / "profile.toml"


@dataclass(frozen=True)
class StackInfo:
    """What a started stack tells its user."""

    api_url: str
    emulator_url: str
    api_key: str
    key_created: bool
    restore: RestoreReport
    agent_started: bool


class LocalStack:
    """Start and stop every piece of the local stack."""

    def __init__(self, options: LocalOptions, settings: Settings) -> None:
        self.options = options
        self.base_settings = settings
        self.emulator = Emulator(
            options.data_dir, host=options.host, region=settings.region, fsync=options.fsync
        )
        self.api: ApiHttpServer | None = None
        self.timers: Timers | None = None
        self.stream: StreamPublisher | None = None
        self.agent: AgentSupervisor | None = None
        self.launchers: LocalLaunchers | None = None
        self._lock_file: IO[str] | None = None
        self._api_serving = False

    def bind(self) -> None:
        """Take the API port and the data folder, or raise `LocalStackError` saying which."""
        self.api = _bind_api(self.options.host, self.options.port)
        tightened = secure_home(self.options.home, self.options.data_dir)
        if tightened:
            logger.info("made %s paths under %s owner-only", tightened, self.options.data_dir)
        self._lock_file = _lock_data_dir(self.options.data_dir)

    def start(self) -> StackInfo:
        """Bring everything up (after `bind`); stop whatever started if a step fails."""
        assert self.api is not None, "bind() first"
        try:
            return self._start(self.api)
        except BaseException:
            self.stop()
            raise

    def _start(self, api: ApiHttpServer) -> StackInfo:
        restore = self.emulator.start()
        settings = dataclasses.replace(self.base_settings, aws_endpoint_url=self.emulator.url)
        ensure_table(settings, self.emulator.clients.dynamodb)
        ensure_buckets(settings, self.emulator.clients.s3)
        store = build_store(settings)
        key, created = ensure_profile(store, self.options.profile, api.url, utcnow())
        settings = self._start_launchers(store, settings, api.url)
        self._start_stream(settings, store)
        jobs = towel_jobs(store, settings, self.options.cadences)
        compaction = _compaction_job(
            self.emulator, self.options.compact_after, self.options.cadences.compaction_check
        )
        self.timers = Timers([*jobs, compaction])
        self.timers.start()
        api.handle_event = ApiApp(ApiDeps(store, settings)).handle
        api.start_in_thread()
        self._api_serving = True
        agent_started = self._start_agent(api.url, key)
        return StackInfo(api.url, self.emulator.url, key, created, restore, agent_started)

    def _start_launchers(self, store: Any, settings: Settings, api_url: str) -> Settings:
        """The push-launch machinery, if its package is installed; the settings to serve with."""
        wanted = self.options.launchers
        if not wanted or importlib.util.find_spec("stratoflow_functions.launchers") is None:
            return settings
        self.launchers = start_launchers(
            self.emulator, store, settings, api_url=api_url, root=self.options.data_dir,
            now=utcnow(), host_environ=self.options.agent_env,
        )  # fmt: skip
        return self.launchers.settings

    def _start_stream(self, settings: Settings, store: Any) -> None:
        clients = self.emulator.clients
        self.stream = StreamPublisher(
            clients.client("dynamodbstreams"),
            clients.dynamodb,
            clients.client("events"),
            store.run_counting,
            table_name=settings.table_name,
            event_bus_name=settings.event_bus_name,
        )
        self.stream.start()

    def _start_agent(self, api_url: str, key: str) -> bool:
        if not self.options.agent:
            return False
        if not agents_available():
            logger.warning(
                "no local agent: the stratoflow-agents package is not installed "
                "(install it, or start an agent elsewhere with `stratoflow agent start`)"
            )
            return False
        env = {**self.options.agent_env, "STRATOFLOW_API_URL": api_url, "STRATOFLOW_API_KEY": key}
        self.agent = AgentSupervisor(agent_command(self.options.work_queue), env)
        self.agent.start()
        return True

    def stop(self) -> None:
        """Stop the agent, timers, publisher, launch processes, API and emulator, in order."""
        if self.agent is not None:
            self.agent.stop()
            self.agent = None
        for part in (self.timers, self.stream):
            if part is not None:
                part.stop()
        self.timers = self.stream = None
        if self.launchers is not None:
            self.launchers.stop()
            self.launchers = None
        if self.api is not None:
            if self._api_serving:  # shutdown() waits forever on a server that never served
                self.api.shutdown()
            self.api.server_close()
            self.api = None
        self.emulator.stop()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def _not_ready(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    body = '{"error": {"code": "starting", "message": "the local stack is starting"}}'
    return {"statusCode": 503, "headers": {"content-type": "application/json"}, "body": body}


def _bind_api(host: str, port: int) -> ApiHttpServer:
    try:
        return ApiHttpServer((host, port), _not_ready)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise LocalStackError(
                f"port {port} on {host} is already in use (is another `stratoflow server "
                "start` running?); stop it or pick another port with --port",
                code="port_in_use",
            ) from exc
        raise LocalStackError(f"cannot listen on {host}:{port}: {exc}") from exc


def _lock_data_dir(data_dir: Path) -> IO[str]:
    handle = open_private(data_dir / "lock", "a")  # "w" would empty the holder's pid
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise LocalStackError(
            f"another local stack is using {data_dir.parent}; stop it first",
            code="data_dir_in_use",
        ) from exc
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _compaction_job(emulator: Emulator, threshold: int, every: float) -> Job:
    def tick() -> int:
        return emulator.compact() if emulator.log_size >= threshold else 0

    return Job("compaction", every, tick)
