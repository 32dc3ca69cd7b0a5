"""The store: every repository of one table, built once from settings (and a clock).

`build_store(settings)` is what handlers call at cold start; services take the `Store` (or one
of its repositories) as an argument, and tests build one against moto.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratoflow.schemas import utcnow
from stratoflow_functions.config import Settings
from stratoflow_functions.store.api_keys import ApiKeyRepository
from stratoflow_functions.store.base import Clock, StoreContext
from stratoflow_functions.store.cache import CacheRepository
from stratoflow_functions.store.concurrency import ConcurrencyRepository
from stratoflow_functions.store.deployments import DeploymentRepository
from stratoflow_functions.store.flow_runs import FlowRunRepository
from stratoflow_functions.store.flows import FlowRepository
from stratoflow_functions.store.logs import LogRepository
from stratoflow_functions.store.models import build_models
from stratoflow_functions.store.run_counting import RunCounting
from stratoflow_functions.store.task_runs import TaskRunRepository
from stratoflow_functions.store.work_queues import AgentRepository, WorkQueueRepository


@dataclass(frozen=True)
class Store:
    """The repositories of one table."""

    flows: FlowRepository
    deployments: DeploymentRepository
    flow_runs: FlowRunRepository
    task_runs: TaskRunRepository
    logs: LogRepository
    cache: CacheRepository
    concurrency: ConcurrencyRepository
    api_keys: ApiKeyRepository
    work_queues: WorkQueueRepository
    agents: AgentRepository
    run_counting: RunCounting
    """The stream consumer's writes: state history and run counters."""


def build_store(settings: Settings, clock: Clock = utcnow) -> Store:
    """Bind every repository to the table of `settings`.

    Args:
        settings: Table name, region, endpoint and retention settings.
        clock: The time used to drop items past their TTL on reads (tests pass a fixed one).

    Returns:
        A store whose item class (and connection) belongs to it alone.
    """
    ctx = StoreContext(models=build_models(settings), clock=clock)
    return Store(
        flows=FlowRepository(ctx),
        deployments=DeploymentRepository(ctx),
        flow_runs=FlowRunRepository(ctx),
        task_runs=TaskRunRepository(ctx),
        logs=LogRepository(ctx),
        cache=CacheRepository(ctx),
        concurrency=ConcurrencyRepository(ctx),
        api_keys=ApiKeyRepository(ctx),
        work_queues=WorkQueueRepository(ctx),
        agents=AgentRepository(ctx),
        run_counting=RunCounting(ctx),
    )
