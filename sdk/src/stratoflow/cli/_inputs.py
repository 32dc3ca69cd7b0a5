"""Command-line inputs shared by `deploy`, `run` and `deployments`: `--param KEY=VALUE` pairs,
deployment references (`FLOW/NAME` or an id) and readable pydantic validation messages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from stratoflow.cli._common import BadInputError
from stratoflow.client import StratoflowClient
from stratoflow.schemas import Deployment


def parse_params(pairs: Iterable[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs as parameters; a value is JSON when it parses as JSON, else a string.

    Raises:
        BadInputError: a pair has no `=` or an empty key (exit 2).
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise BadInputError(f"invalid --param {pair!r}: expected KEY=VALUE")
        params[key.strip()] = parse_value(raw)
    return params


def parse_value(raw: str) -> Any:
    """A command-line value: JSON when it parses as JSON, else the string itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # `--param day=2024-06-01` means the string, as a user would expect


def find_deployment(client: StratoflowClient, ref: str) -> Deployment:
    """The deployment named by `FLOW/NAME` or by its id.

    Raises:
        BadInputError: `ref` is neither form (exit 2).
        NotFoundError: no such deployment (`handle_errors` turns it into exit 2).
    """
    try:
        deployment_id = UUID(ref)
    except ValueError:
        deployment_id = None
    if deployment_id is not None:
        return client.read_deployment(deployment_id)
    flow_name, sep, name = ref.partition("/")
    if not sep or not flow_name or not name:
        raise BadInputError(f"invalid deployment {ref!r}: expected FLOW/NAME or a deployment id")
    return client.read_deployment_by_name(flow_name, name)


def validation_message(exc: ValidationError) -> str:
    """The first problem of a validation error, in one line (`field: message`)."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
