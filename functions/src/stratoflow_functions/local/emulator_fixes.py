"""Every fix the local stack makes to its embedded emulator (moto), installed together.

Each is a patch of moto's internals, not of ours, and each is explained in its own module:
atomic item operations (`moto_atomic`), transactions that copy only what they touch
(`moto_transactions`), a stream of flow-run items only (`moto_streams`), a linear item-size
check (`moto_items`), Step Functions' ECS integration in the right casing (`moto_sfn_ecs`),
Fargate tasks with task-level memory only (`moto_ecs_tasks`), Lambda functions whose code runs
in process (`moto_lambda`), StartExecution atomic per name (`moto_sfn_atomic`), model
objects freed when moto is done with them (`moto_models`), Query answered from sorted
per-partition indexes (`moto_indexes`, installed before the lock so that the lock covers their
upkeep), and the item operations' answers written as JSON without a walk of their shapes
(`moto_serialize`). Anything
that serves the API over moto in this process (the local stack, the benchmarks, the live-API
tests) installs the same set.
"""

from __future__ import annotations

from stratoflow_functions.local.moto_atomic import make_moto_dynamodb_atomic
from stratoflow_functions.local.moto_ecs_tasks import make_moto_ecs_task_memory_optional
from stratoflow_functions.local.moto_indexes import make_moto_indexes_sorted
from stratoflow_functions.local.moto_items import make_moto_item_sizes_linear
from stratoflow_functions.local.moto_lambda import make_moto_lambda_local
from stratoflow_functions.local.moto_models import make_moto_models_untracked
from stratoflow_functions.local.moto_serialize import make_moto_dynamodb_responses_direct
from stratoflow_functions.local.moto_sfn_atomic import make_moto_sfn_atomic
from stratoflow_functions.local.moto_sfn_ecs import make_moto_sfn_ecs_cased
from stratoflow_functions.local.moto_streams import make_moto_streams_lean
from stratoflow_functions.local.moto_transactions import make_moto_transactions_cheap


def install_emulator_fixes() -> None:
    """Install all of them (idempotent)."""
    make_moto_models_untracked()
    make_moto_indexes_sorted()
    make_moto_dynamodb_responses_direct()
    make_moto_dynamodb_atomic()
    make_moto_transactions_cheap()
    make_moto_streams_lean()
    make_moto_item_sizes_linear()
    make_moto_sfn_ecs_cased()
    make_moto_lambda_local()
    make_moto_ecs_task_memory_optional()
    make_moto_sfn_atomic()
