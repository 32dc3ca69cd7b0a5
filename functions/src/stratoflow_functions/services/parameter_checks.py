"""A deployment's parameter schema, checked when it is stored and against every run's parameters.

Both run before anything is written: a schema over its size limit is a 413
(`parameter_schema_too_large`), one that is not an object schema (or too costly to check) a 422
(`invalid_parameter_schema`), and parameters that do not fit it a 422 (`invalid_parameters`)
whose message names each parameter and what is wrong (`steps: expected integer`).
"""

from __future__ import annotations

from typing import Any

from stratoflow.schemas import Deployment, DeploymentCreate
from stratoflow.schemas.parameter_schema import (
    MAX_PARAMETER_SCHEMA_BYTES,
    SchemaTooComplexError,
    parameter_problems,
    schema_problem,
    schema_size,
)
from stratoflow_functions.errors import PayloadTooLargeError, UnprocessableError

MAX_PROBLEMS_SHOWN = 5


def check_parameter_schema(schema: dict[str, Any] | None) -> None:
    """Refuse a schema a deployment cannot store (413 too large, 422 not an object schema)."""
    if schema is None:
        return
    size = schema_size(schema)
    if size > MAX_PARAMETER_SCHEMA_BYTES:
        raise PayloadTooLargeError(
            f"parameter_schema is {size} bytes; the limit is {MAX_PARAMETER_SCHEMA_BYTES} bytes",
            code="parameter_schema_too_large",
        )
    problem = schema_problem(schema)
    if problem is not None:
        raise UnprocessableError(problem, code="invalid_parameter_schema")


def check_deployment_parameters(data: DeploymentCreate) -> None:
    """The deployment's default parameters (and each schedule's over them) fit its schema;
    parameters a run supplies later may be missing."""
    if data.parameter_schema is None:
        return
    check_against(data.parameter_schema, data.parameters, partial=True)
    for entry in data.schedules:
        merged = {**data.parameters, **entry.parameters}
        check_against(data.parameter_schema, merged, partial=True)


def check_run_parameters(deployment: Deployment, parameters: dict[str, Any]) -> None:
    """A run's parameters (the deployment's merged with the request's) fit the schema."""
    if deployment.parameter_schema is not None:
        check_against(deployment.parameter_schema, parameters, partial=False)


def check_against(schema: dict[str, Any], parameters: dict[str, Any], *, partial: bool) -> None:
    """Raise `invalid_parameters` (422) naming every problem (the first few of them)."""
    try:
        problems = parameter_problems(schema, parameters, partial=partial)
    except SchemaTooComplexError as exc:
        raise UnprocessableError(str(exc), code="invalid_parameter_schema") from exc
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        hidden = len(problems) - MAX_PROBLEMS_SHOWN
        more = f" (and {hidden} more)" if hidden > 0 else ""
        raise UnprocessableError(f"invalid parameters: {shown}{more}", code="invalid_parameters")
