"""How the engine reaches the API, resolved once per top-level flow call.

`runtime_for_call()` is the engine's entry point into configuration: an override installed with
`use_runtime()` (tests, `stratoflow execute`, the local stack) or else the client settings
(profile < environment). No API URL means offline: the in-memory `LocalOrchestrator`.

The runtime built from settings is kept per process and per settings: every top-level flow call
with the same settings shares one `StratoflowClient` (one httpx connection pool and SSL context;
httpx clients are thread-safe) and one cache of flow ids, so a flow is registered once per
process. The pooled clients are closed at exit; a forked child forgets its parent's (the
connections belong to the parent) and builds its own.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from uuid import UUID

from stratoflow.client.settings import ClientSettings, load_client_settings
from stratoflow.runtime.heartbeat import HEARTBEAT_SECONDS
from stratoflow.runtime.local import LocalOrchestrator
from stratoflow.runtime.orchestrator import Orchestrator
from stratoflow.runtime.results import ResultStore, result_store_for


@dataclass
class RuntimeConfig:
    """What a flow run needs from its surroundings.

    Attributes:
        orchestrator: the API client, or a `LocalOrchestrator` offline.
        results: where persisted results go.
        heartbeat_seconds: the heartbeat interval.
        batch_seconds: the longest a task-run record waits before it is sent.
        log_seconds: the longest a log line waits before it is sent.
        console: whether run logs are also printed to stderr.
        infrastructure_id: recorded with heartbeats (a pid, a container id...).
        heartbeat_pid: whether heartbeats name this process's pid when `infrastructure_id` is
            None (not for a launched run: its launcher recorded a better id, which a pid would
            overwrite).
        close_orchestrator: whether the engine closes the orchestrator when the run ends.
    """

    orchestrator: Orchestrator
    results: ResultStore
    heartbeat_seconds: float = HEARTBEAT_SECONDS
    batch_seconds: float = 0.5
    log_seconds: float = 1.0
    console: bool = True
    infrastructure_id: str | None = None
    heartbeat_pid: bool = True
    close_orchestrator: bool = False
    flow_ids: dict[str, UUID] = field(default_factory=dict)
    """Flow ids by name, so each flow is registered once per runtime."""


_override: ContextVar[RuntimeConfig | None] = ContextVar("stratoflow_runtime", default=None)
_local_lock = threading.Lock()
_local: dict[str, LocalOrchestrator] = {}
_remote_lock = threading.Lock()
_remote: dict[ClientSettings, RuntimeConfig] = {}


@contextmanager
def use_runtime(config: RuntimeConfig) -> Iterator[RuntimeConfig]:
    """Run flows called inside this block against `config` instead of the settings."""
    token = _override.set(config)
    try:
        yield config
    finally:
        _override.reset(token)


def local_orchestrator(settings: ClientSettings) -> LocalOrchestrator:
    """The process-wide offline orchestrator (its cache index lives under the home folder)."""
    key = str(settings.home)
    with _local_lock:
        if key not in _local:
            _local[key] = LocalOrchestrator(cache_dir=settings.home / "cache")
        return _local[key]


def runtime_for_call(settings: ClientSettings | None = None) -> RuntimeConfig:
    """The runtime of a top-level flow call: the override, else built from settings."""
    override = _override.get()
    if override is not None:
        return override
    resolved = settings or load_client_settings()
    if resolved.offline:
        results = result_store_for(resolved.resolved_results_uri)
        return RuntimeConfig(orchestrator=local_orchestrator(resolved), results=results)
    return pooled_runtime(resolved)


def pooled_runtime(settings: ClientSettings) -> RuntimeConfig:
    """The process's runtime for `settings`: one pooled client, built on first use."""
    with _remote_lock:
        runtime = _remote.get(settings)
        if runtime is None:
            from stratoflow.client import StratoflowClient

            results = result_store_for(settings.resolved_results_uri)
            runtime = RuntimeConfig(orchestrator=StratoflowClient(settings), results=results)
            _remote[settings] = runtime
        return runtime


def close_pooled_clients() -> None:
    """Close every pooled client (at exit; tests that want a clean slate)."""
    with _remote_lock:
        runtimes = list(_remote.values())
        _remote.clear()
    for runtime in runtimes:
        getattr(runtime.orchestrator, "close", lambda: None)()


def _forget_pooled_clients() -> None:
    # In a forked child the pooled sockets are the parent's: drop them without closing.
    global _remote_lock
    _remote_lock = threading.Lock()
    _remote.clear()


atexit.register(close_pooled_clients)
os.register_at_fork(after_in_child=_forget_pooled_clients)
