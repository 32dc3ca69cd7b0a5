"""Stop the embedded emulator from keeping every model object it ever made.

moto's `BaseModel.__new__` appends each new instance to its class's `instances_tracked` list,
for moto's own web dashboard, and nothing ever removes them. Every DynamoDB `Item` is such an
instance, and moto makes a new one for every write and a deep copy of the old one on every
update (so that it can hand back the old image), as well as copies of the table inside a
transaction and a `ShardIterator` for every stream read. None of it could be freed: measured
with 1,000 runs written, 4,178 items in the table and 89,828 `Item` objects alive (4,001
`Table` copies among them), and the local stack's process grew to 8.9 GB at 8,167 runs while
the cyclic garbage collector walked ever more objects. Nothing in Stratoflow reads moto's
dashboard, so here a model is an ordinary object, freed when moto lets go of it.
"""

from __future__ import annotations

from typing import Any


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def make_moto_models_untracked() -> None:
    """Make new moto models untracked and drop the ones tracked so far (idempotent)."""
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import reset_model_data

    model: Any = BaseModel
    if getattr(model, "_stratoflow_untracked", False):
        return
    model.__new__ = staticmethod(_untracked_new)
    model._stratoflow_untracked = True
    reset_model_data()
