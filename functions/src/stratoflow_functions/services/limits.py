"""Size limits checked before anything is written, so an item never outgrows DynamoDB's 400 KB."""

from __future__ import annotations

import json
from typing import Any

from stratoflow.schemas import MAX_PARAMETERS_BYTES
from stratoflow_functions.errors import PayloadTooLargeError


def json_size(value: Any) -> int:
    """The size in bytes of `value` serialised as compact JSON."""
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def check_parameters(parameters: dict[str, Any], *, field: str = "parameters") -> None:
    """Refuse parameters over the cap with a 413 that names the field."""
    size = json_size(parameters)
    if size > MAX_PARAMETERS_BYTES:
        raise PayloadTooLargeError(
            f"{field} are {size} bytes; the limit is {MAX_PARAMETERS_BYTES} bytes. "
            "Pass large inputs by reference (an S3 URI, say).",
            code="parameters_too_large",
        )
