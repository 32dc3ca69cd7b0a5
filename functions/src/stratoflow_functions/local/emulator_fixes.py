"""Every fix the local stack makes to its embedded emulator (moto), installed together.

Each is a patch of moto's internals, not of ours, and each is explained in its own module:
atomic item operations (`moto_atomic`), transactions that copy only what they touch
(`moto_transactions`), a stream of flow-run items only (`moto_streams`), a linear item-size
check (`moto_items`), and StartExecution atomic per name (`moto_sfn_atomic`). Anything that
serves the API over moto in this process (the local stack, the benchmarks, the live-API tests)
installs the same set.
"""

from __future__ import annotations

from stratoflow_functions.local.moto_atomic import make_moto_dynamodb_atomic
from stratoflow_functions.local.moto_items import make_moto_item_sizes_linear
from stratoflow_functions.local.moto_sfn_atomic import make_moto_sfn_atomic
from stratoflow_functions.local.moto_streams import make_moto_streams_lean
from stratoflow_functions.local.moto_transactions import make_moto_transactions_cheap


def install_emulator_fixes() -> None:
    """Install all of them (idempotent)."""
    make_moto_dynamodb_atomic()
    make_moto_transactions_cheap()
    make_moto_streams_lean()
    make_moto_item_sizes_linear()
    make_moto_sfn_atomic()
