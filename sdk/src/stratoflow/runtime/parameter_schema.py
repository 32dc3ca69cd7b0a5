"""A flow's parameter schema: JSON Schema made from the function's signature at deploy time.

The schema is pydantic's for the same model the engine validates parameters with
(`parameters._parameter_model`), so the API's check before a run and the engine's check at the
start of it agree. It is made self-contained for the API's small validator and the dashboard's
form: `$ref`s into `$defs` are inlined (a model that refers to itself becomes `{}` where it
recurs), `additionalProperties: false` unless the function takes `**kwargs`, and a hint JSON
Schema cannot express (an arbitrary class) becomes `{}`, which accepts anything: the engine still
checks it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from stratoflow.runtime.parameters import _parameter_model


class _Lenient(GenerateJsonSchema):
    """pydantic's generator, with `{}` (anything) for what JSON Schema has no form for."""

    def is_instance_schema(self, schema: core_schema.IsInstanceSchema) -> JsonSchemaValue:
        return {}

    def callable_schema(self, schema: core_schema.CallableSchema) -> JsonSchemaValue:
        return {}

    def handle_invalid_for_json_schema(
        self, schema: core_schema.CoreSchema, error_info: str
    ) -> JsonSchemaValue:
        return {}


def parameter_schema(fn: Callable[..., Any], title: str | None = None) -> dict[str, Any]:
    """The JSON Schema object of `fn`'s parameters.

    Args:
        fn: the flow function.
        title: the schema's title (default: the function's name).

    Returns:
        `{"title", "type": "object", "properties", "required"?, "additionalProperties"?}`,
        each property with its `default` when the parameter has one.
    """
    raw = _parameter_model(fn).model_json_schema(schema_generator=_Lenient)
    defs = raw.pop("$defs", {})
    schema = _inline(raw, defs, frozenset())
    schema["title"] = title or fn.__name__
    schema["type"] = "object"
    schema.setdefault("properties", {})
    if not _takes_kwargs(fn):
        schema["additionalProperties"] = False
    return dict(schema)


def _takes_kwargs(fn: Callable[..., Any]) -> bool:
    kinds = (p.kind for p in inspect.signature(fn).parameters.values())
    return any(kind is inspect.Parameter.VAR_KEYWORD for kind in kinds)


def _inline(node: Any, defs: dict[str, Any], seen: frozenset[str]) -> Any:
    """`node` with every `#/$defs/...` reference replaced by its definition."""
    if isinstance(node, list):
        return [_inline(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in seen or name not in defs:
            return {}
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return {**_inline(defs[name], defs, seen | {name}), **_inline(rest, defs, seen)}
    return {key: _inline(value, defs, seen) for key, value in node.items()}


__all__ = ["parameter_schema"]
