"""The DynamoDB store of the control plane: one table, pynamodb items, repositories per entity.

Services call the repositories of a `Store` built by `build_store(settings)`; every invariant
(claims, state changes, idempotent creates, concurrency slots) is a single conditional write or
a transaction here. The table layout and access patterns are in docs/data-model.md.
"""

from stratoflow_functions.store.api_keys import ApiKeyRepository
from stratoflow_functions.store.cache import CacheRepository
from stratoflow_functions.store.concurrency import ConcurrencyRepository
from stratoflow_functions.store.deployments import DeploymentRepository
from stratoflow_functions.store.flow_runs import FlowRunRepository
from stratoflow_functions.store.flows import FlowRepository
from stratoflow_functions.store.logs import LogRepository
from stratoflow_functions.store.models import build_models
from stratoflow_functions.store.pages import decode_token, encode_token
from stratoflow_functions.store.records import FlowRunRecord, TaskRunRecord
from stratoflow_functions.store.store import Store, build_store
from stratoflow_functions.store.table import create_table, table_definition
from stratoflow_functions.store.task_runs import TaskRunRepository
from stratoflow_functions.store.work_queues import AgentRepository, WorkQueueRepository

__all__ = [
    "AgentRepository",
    "ApiKeyRepository",
    "CacheRepository",
    "ConcurrencyRepository",
    "DeploymentRepository",
    "FlowRepository",
    "FlowRunRecord",
    "FlowRunRepository",
    "LogRepository",
    "Store",
    "TaskRunRecord",
    "TaskRunRepository",
    "WorkQueueRepository",
    "build_models",
    "build_store",
    "create_table",
    "decode_token",
    "encode_token",
    "table_definition",
]
