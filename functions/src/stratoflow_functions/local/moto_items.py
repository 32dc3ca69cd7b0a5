"""Make the embedded emulator's item-size check linear in an item's attributes.

moto checks DynamoDB's 400 KB item limit by summing the size of every attribute already set,
each time one more attribute is set: building an item of n attributes costs n² size
computations, and that was most of the emulator's time per write (a task-run item has about
fifteen attributes). This keeps a running total instead. The total is exact for how moto builds
items (one attribute at a time); an attribute replaced in place is re-counted in full. The
control plane never relies on the emulator for the limit: the API caps every variable-size
field before anything is written.
"""

from __future__ import annotations

from typing import Any

ITEM_LIMIT_BYTES = 405_000
"""moto's own threshold (DynamoDB accepts a little over 400 KB)."""


def _size(key: str, value: Any) -> int:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    sized = value.size() if type(value) is DynamoType else bytesize(str(value))
    return bytesize(key) + int(sized)


def make_moto_item_sizes_linear() -> None:
    """Install the running-total size check (idempotent: patches once per process)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    cls: Any = LimitedSizeDict
    if getattr(cls, "_stratoflow_linear", False):
        return

    def setitem(self: Any, key: str, value: Any) -> None:
        total = self.__dict__.get("_sf_size")
        if total is None or key in self:
            others = ((k, v) for k, v in self.items() if k != key)
            total = sum(_size(k, v) for k, v in others) + _size(key, value)
        else:
            total += _size(key, value)
        if total > ITEM_LIMIT_BYTES:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)
        self.__dict__["_sf_size"] = total

    cls.__setitem__ = setitem
    cls._stratoflow_linear = True
