"""The parameter schema `stratoflow deploy` makes from a flow's signature, and the API's check of
run parameters against it (every keyword it reads, and each message)."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel

from stratoflow.runtime.parameter_schema import parameter_schema
from stratoflow.schemas.parameter_schema import (
    MAX_PARAMETER_SCHEMA_BYTES,
    SchemaTooComplexError,
    parameter_problems,
    schema_problem,
)


class Window(BaseModel):
    days: int
    labels: list[str] = []


class Tree(BaseModel):
    children: list[Tree] = []


class Opaque:
    """A class JSON Schema has no form for."""


def etl(
    steps: int,
    name: str = "nightly",
    limit: int | None = None,
    weights: list[float] = [1.0],  # noqa: B006 - a default the schema must show
    window: Window | None = None,
    mode: Literal["fast", "full"] = "fast",
    tree: Tree | None = None,
    thing: Opaque | None = None,
) -> None:
    """A flow function with one of each kind of parameter."""


def with_kwargs(a: int, **rest: Any) -> None:
    """Takes any further keyword."""


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return parameter_schema(etl, title="etl-flow")


# --- generation ---------------------------------------------------------------------------


def test_schema_is_an_object_with_title_required_and_no_extras(schema: dict[str, Any]) -> None:
    assert schema["title"] == "etl-flow"
    assert schema["type"] == "object"
    assert schema["required"] == ["steps"]
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == [
        "steps", "name", "limit", "weights", "window", "mode", "tree", "thing"
    ]  # fmt: skip
    assert "$defs" not in schema
    assert "$ref" not in str(schema)
    assert schema_problem(schema) is None


def test_schema_types_and_defaults(schema: dict[str, Any]) -> None:
    props = schema["properties"]
    assert props["steps"]["type"] == "integer"
    assert "default" not in props["steps"]
    assert props["name"] == {"default": "nightly", "title": "Name", "type": "string"}
    assert props["limit"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert props["limit"]["default"] is None
    assert props["weights"]["items"] == {"type": "number"}
    assert props["weights"]["default"] == [1.0]
    assert props["mode"]["enum"] == ["fast", "full"]


def test_pydantic_models_are_inlined_and_recursion_stops(schema: dict[str, Any]) -> None:
    window = schema["properties"]["window"]["anyOf"][0]
    assert window["type"] == "object"
    assert window["required"] == ["days"]
    assert window["properties"]["labels"]["items"] == {"type": "string"}
    tree = schema["properties"]["tree"]["anyOf"][0]
    assert tree["properties"]["children"]["items"] == {}  # Tree inside Tree: anything


def test_a_hint_json_schema_cannot_express_accepts_anything(schema: dict[str, Any]) -> None:
    assert schema["properties"]["thing"]["anyOf"][0] == {}


def test_kwargs_allow_further_parameters_and_no_hints_mean_any() -> None:
    made = parameter_schema(with_kwargs)
    assert made["title"] == "with_kwargs"
    assert "additionalProperties" not in made
    assert parameter_problems(made, {"a": 1, "other": [1]}) == []

    def untyped(x, y=2):  # type: ignore[no-untyped-def]
        return None

    loose = parameter_schema(untyped)
    assert loose["properties"]["y"]["default"] == 2
    assert parameter_problems(loose, {"x": {"any": "thing"}}) == []


# --- the check ----------------------------------------------------------------------------


def test_valid_parameters_pass(schema: dict[str, Any]) -> None:
    good = {"steps": 3, "limit": None, "weights": [1, 2.5], "window": {"days": 7}, "mode": "full"}
    assert parameter_problems(schema, good) == []


def test_type_mismatch_names_the_parameter(schema: dict[str, Any]) -> None:
    assert parameter_problems(schema, {"steps": "notanint"}) == ["steps: expected integer"]
    assert parameter_problems(schema, {"steps": 1, "name": 5}) == ["name: expected string"]


def test_lax_like_pydantic(schema: dict[str, Any]) -> None:
    """What the engine's lax validation accepts is accepted here too."""
    assert parameter_problems(schema, {"steps": "3"}) == []
    assert parameter_problems(schema, {"steps": 3.0}) == []
    assert parameter_problems(schema, {"steps": 3.5}) == ["steps: expected integer"]
    assert parameter_problems(schema, {"steps": True}) == ["steps: expected integer"]
    assert parameter_problems(schema, {"steps": 1, "weights": ["2.5", 1]}) == []
    flag = {"type": "object", "properties": {"on": {"type": "boolean"}}}
    assert parameter_problems(flag, {"on": "yes"}) == []
    assert parameter_problems(flag, {"on": 1}) == []
    assert parameter_problems(flag, {"on": "maybe"}) == ["on: expected boolean"]


def test_required_and_partial(schema: dict[str, Any]) -> None:
    assert parameter_problems(schema, {}) == ["steps: required"]
    assert parameter_problems(schema, {}, partial=True) == []
    assert parameter_problems(schema, {"window": {}}, partial=True) == ["window.days: required"]


def test_additional_properties(schema: dict[str, Any]) -> None:
    assert parameter_problems(schema, {"steps": 1, "stepz": 2}) == ["stepz: unexpected parameter"]
    nested = {"steps": 1, "window": {"days": 1, "extra": True}}
    assert parameter_problems(schema, nested) == []  # a model ignores extra fields, as pydantic
    typed = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert parameter_problems(typed, {"a": 1, "b": "x"}) == ["b: expected integer"]
    closed = {"type": "object", "properties": {"o": {"type": "object", "properties": {},
              "additionalProperties": False}}}  # fmt: skip
    assert parameter_problems(closed, {"o": {"z": 1}}) == ["o.z: unexpected field"]


def test_items_name_the_index(schema: dict[str, Any]) -> None:
    bad = {"steps": 1, "weights": [1, "x", 2]}
    assert parameter_problems(schema, bad) == ["weights[1]: expected number"]
    assert parameter_problems(schema, {"steps": 1, "weights": 5}) == ["weights: expected array"]


def test_enum_and_const(schema: dict[str, Any]) -> None:
    assert parameter_problems(schema, {"steps": 1, "mode": "slow"}) == [
        'mode: expected one of "fast", "full"'
    ]
    const = {"type": "object", "properties": {"v": {"const": 2}}}
    assert parameter_problems(const, {"v": 3}) == ["v: expected 2"]


def test_any_of_optional_explains_the_inner_type(schema: dict[str, Any]) -> None:
    assert parameter_problems(schema, {"steps": 1, "limit": "lots"}) == ["limit: expected integer"]
    nested = {"steps": 1, "window": {"days": "x"}}
    assert parameter_problems(schema, nested) == ["window.days: expected integer"]
    either = {"type": "object", "properties": {"v": {"anyOf": [{"type": "integer"},
              {"type": "string"}]}}}  # fmt: skip
    assert parameter_problems(either, {"v": []}) == ["v: expected integer or string"]


def test_type_lists() -> None:
    listed = {"type": "object", "properties": {"v": {"type": ["integer", "null"]}}}
    assert parameter_problems(listed, {"v": None}) == []
    assert parameter_problems(listed, {"v": "a"}) == ["v: expected integer or null"]


def test_unknown_keywords_and_types_are_left_to_the_engine() -> None:
    loose = {"type": "object", "properties": {"v": {"type": "mystery", "minimum": 5}}}
    assert parameter_problems(loose, {"v": 1}) == []


def test_schema_problems() -> None:
    assert schema_problem({"type": "array"}) is not None
    assert schema_problem([1]) is not None
    assert schema_problem({"type": "object", "properties": []}) is not None
    assert schema_problem({"type": "object", "required": [1]}) is not None
    assert schema_problem({"type": "object"}) is None
    assert MAX_PARAMETER_SCHEMA_BYTES == 64 * 1024


def test_a_schema_too_costly_to_check_is_refused() -> None:
    node: dict[str, Any] = {"type": "integer"}
    for _ in range(30):  # 2**30 paths through nested anyOfs
        node = {"anyOf": [node, node]}
    with pytest.raises(SchemaTooComplexError):
        parameter_problems({"type": "object", "properties": {"v": node}}, {"v": "x"})
