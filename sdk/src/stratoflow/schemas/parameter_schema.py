"""Checking parameters against a deployment's `parameter_schema`, purely and in bounded work.

The API runs this before it writes a run (`422 invalid_parameters`). It reads the subset of JSON
Schema that `stratoflow deploy` emits (`stratoflow.runtime.parameter_schema`): `type` (a name or
a list of names), `properties`, `required`, `items`, `enum`, `const`, `additionalProperties`,
`anyOf`/`oneOf` (how pydantic writes `Optional`), and `default` (not checked: it is the
flow's). Other keywords (`format`, `minimum`, ...) are left to the engine's own check when the
run starts. Types are matched as pydantic's lax mode reads JSON, so what the engine would accept
is accepted here: `"3"` and `3.0` are integers, `"2.5"` a number, `"true"`/`"yes"`/`1` booleans.

Every problem is reported as `where: what`, `where` naming the parameter and the path inside it
(`steps: expected integer`, `cfg.size: required`, `xs[2]: expected number`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

MAX_PARAMETER_SCHEMA_BYTES = 64 * 1024
"""The largest parameter schema a deployment may store (compact JSON)."""
MAX_CHECK_STEPS = 100_000
"""Schema nodes one check may visit (nested `anyOf`s multiply): past it the schema is refused."""

_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}


class SchemaTooComplexError(ValueError):
    """The schema needs more than `MAX_CHECK_STEPS` steps to check: it is refused."""


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and bool(_INTEGER.match(value.strip()))


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(_NUMBER.match(value.strip()))


def _is_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return value in (0, 1)
    return isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE


TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "null": lambda value: value is None,
    "boolean": _is_boolean,
    "integer": _is_integer,
    "number": _is_number,
    "string": lambda value: isinstance(value, str),
    "array": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
}


def schema_size(schema: Any) -> int:
    """The size in bytes of `schema` as compact JSON (at most `MAX_PARAMETER_SCHEMA_BYTES`)."""
    return len(json.dumps(schema, separators=(",", ":"), default=str).encode())


def schema_problem(schema: Any) -> str | None:
    """Why `schema` cannot be a deployment's parameter schema, or None if it can."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return 'parameter_schema must be a JSON Schema object with "type": "object"'
    if not isinstance(schema.get("properties", {}), dict):
        return "parameter_schema.properties must be an object"
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        return "parameter_schema.required must be a list of names"
    return None


def parameter_problems(
    schema: dict[str, Any], parameters: dict[str, Any], *, partial: bool = False
) -> list[str]:
    """What is wrong with `parameters` for `schema`, as `where: what` lines (empty: valid).

    Args:
        schema: a parameter schema (`schema_problem` found nothing wrong with it).
        parameters: the parameters of a run.
        partial: the deployment's defaults, which runs complete: missing parameters are fine.

    Raises:
        SchemaTooComplexError: checking would take more than `MAX_CHECK_STEPS` steps.
    """
    checker = _Checker()
    top = dict(schema)
    if partial:
        top.pop("required", None)
    checker.check(top, parameters, "")
    return checker.problems


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.steps = 0

    def check(self, schema: Any, value: Any, where: str) -> None:
        self.steps += 1
        if self.steps > MAX_CHECK_STEPS:
            raise SchemaTooComplexError(f"checking takes more than {MAX_CHECK_STEPS} steps")
        if not isinstance(schema, dict):
            return
        branches = schema.get("anyOf", schema.get("oneOf"))
        if isinstance(branches, list) and branches and not self._any_of(branches, value, where):
            return
        if not self._type_matches(schema, value, where):
            return
        self._enum(schema, value, where)
        if isinstance(value, dict):
            self._object(schema, value, where)
        elif isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                self.check(schema["items"], item, f"{where}[{index}]")

    def _report(self, where: str, what: str) -> None:
        self.problems.append(f"{where or 'parameters'}: {what}")

    def _type_matches(self, schema: dict[str, Any], value: Any, where: str) -> bool:
        types = schema.get("type")
        if types is None:
            return True
        names = [types] if isinstance(types, str) else list(types)
        known = [name for name in names if name in TYPE_CHECKS]
        if not known or any(TYPE_CHECKS[name](value) for name in known):
            return True
        self._report(where, f"expected {' or '.join(known)}")
        return False

    def _enum(self, schema: dict[str, Any], value: Any, where: str) -> None:
        if "const" in schema and value != schema["const"]:
            self._report(where, f"expected {json.dumps(schema['const'])}")
        allowed = schema.get("enum")
        if isinstance(allowed, list) and value not in allowed:
            shown = ", ".join(json.dumps(choice) for choice in allowed[:10])
            more = ", ..." if len(allowed) > 10 else ""
            self._report(where, f"expected one of {shown}{more}")

    def _object(self, schema: dict[str, Any], value: dict[str, Any], where: str) -> None:
        properties = schema.get("properties", {})
        properties = properties if isinstance(properties, dict) else {}
        for name in schema.get("required", []):
            if name not in value:
                self._report(_join(where, name), "required")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            inner = _join(where, str(name))
            if name in properties:
                self.check(properties[name], item, inner)
            elif extra is False:
                self._report(inner, "unexpected parameter" if not where else "unexpected field")
            elif isinstance(extra, dict):
                self.check(extra, item, inner)

    def _any_of(self, branches: list[Any], value: Any, where: str) -> bool:
        attempts: list[list[str]] = []
        for branch in branches:
            inner = _Checker()
            inner.steps = self.steps
            inner.check(branch, value, where)
            self.steps = inner.steps
            if not inner.problems:
                return True
            attempts.append(inner.problems)
        not_null = [
            problems
            for branch, problems in zip(branches, attempts, strict=True)
            if not (isinstance(branch, dict) and branch.get("type") == "null")
        ]
        if value is not None and len(not_null) == 1:
            self.problems.extend(not_null[0])  # Optional[X]: say what is wrong for X
            return False
        expected = [_expected(branch) for branch in branches]
        self._report(where, f"expected {' or '.join(expected)}")
        return False


def _expected(branch: Any) -> str:
    if isinstance(branch, dict):
        types = branch.get("type")
        if isinstance(types, str):
            return types
        if isinstance(types, list):
            return " or ".join(str(name) for name in types)
        if "enum" in branch:
            return "one of " + ", ".join(json.dumps(choice) for choice in branch["enum"][:10])
    return "another value"


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


__all__ = [
    "MAX_CHECK_STEPS",
    "MAX_PARAMETER_SCHEMA_BYTES",
    "SchemaTooComplexError",
    "parameter_problems",
    "schema_problem",
    "schema_size",
]
