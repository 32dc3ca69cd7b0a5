"""Recording flow parameters: what JSON can hold is recorded as it is (or as its `repr`), and a
value that cannot be recorded is a `ParameterValidationError` naming the parameter, raised
before any flow run is created, offline (recorded by the offline orchestrator or not) and
against the real API."""

from __future__ import annotations

import dataclasses
import enum
import json
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from stratoflow import ParameterValidationError, flow
from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.runtime import LocalOrchestrator, RuntimeConfig, use_runtime
from stratoflow.runtime.parameters import (
    MAX_PARAMETER_DEPTH,
    MAX_PARAMETER_VALUES,
    jsonable_parameters,
)
from stratoflow.schemas import FlowRunFilter
from stratoflow_functions.local.transport import ApiTransport
from tests.support import in_process_api


class _ReprRaises:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


@dataclasses.dataclass
class _Node:
    next: Any = None


class _Colour(enum.StrEnum):
    RED = "red"


def _nested(depth: int) -> list[Any]:
    outer: list[Any] = []
    inner = outer
    for _ in range(depth - 1):
        inner.append([])
        inner = inner[0]
    return outer


def _self_referencing() -> list[Any]:
    loop: list[Any] = [1]
    loop.append(loop)
    return loop


def _self_referencing_dict() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["me"] = loop
    return loop


def _node_loop() -> _Node:
    node = _Node()
    node.next = node
    return node


def _shared_many_times() -> list[Any]:
    # 2**40 paths through 41 lists: a walk without a budget would never end.
    shared: list[Any] = [1]
    for _ in range(40):
        shared = [shared, shared]
    return shared


UNRECORDABLE = [
    pytest.param(b"\xff\xfe\x00", "bytes that are not UTF-8", id="bytes-not-utf8"),
    pytest.param(bytearray(b"ok \x80"), "bytes that are not UTF-8", id="bytearray-not-utf8"),
    pytest.param("a\ud800b", r"lone surrogate (\ud800)", id="lone-surrogate"),
    pytest.param({"k": ["x", "\udfff"]}, r"at p['k'][1]: a string with a lone", id="nested"),
    pytest.param({"\udc00": 1}, r"at p['\udc00']: a string with a lone", id="surrogate-key"),
    pytest.param(_ReprRaises(), "_ReprRaises object whose repr() raised Runt", id="repr-raises"),
    pytest.param([_ReprRaises()], "at p[0]: a _ReprRaises object", id="repr-raises-inside"),
    pytest.param(_self_referencing(), "at p[1]: it contains itself", id="self-list"),
    pytest.param(_self_referencing_dict(), "at p['me']: it contains itself", id="self-dict"),
    pytest.param(_node_loop(), "_Node object that cannot be converted", id="self-dataclass"),
    pytest.param(_nested(5_000), f"deeper than {MAX_PARAMETER_DEPTH} levels", id="5000-deep"),
    pytest.param(_nested(MAX_PARAMETER_DEPTH + 1), "deeper than", id="one-too-deep"),
    pytest.param(_shared_many_times(), f"more than {MAX_PARAMETER_VALUES}", id="shared-dag"),
]


@pytest.mark.parametrize(("value", "message"), UNRECORDABLE)
def test_unrecordable_values_raise_parameter_validation_error_naming_them(
    value: Any, message: str
) -> None:
    with pytest.raises(ParameterValidationError) as caught:
        jsonable_parameters({"p": value})
    text = str(caught.value)
    assert text.startswith("parameter 'p' cannot be recorded")
    assert message in text
    assert len(text) < 300
    text.encode("utf-8")  # printable: a lone surrogate in the input is escaped in the message


def test_a_parameter_name_with_a_lone_surrogate_is_named_escaped() -> None:
    with pytest.raises(ParameterValidationError, match=r"parameter '\\\\ud800x' cannot be"):
        jsonable_parameters({"\ud800x": 1})


def test_recordable_values_are_recorded_as_json() -> None:
    recorded = jsonable_parameters(
        {
            "text": "héllo ✓", "utf8": b"caf\xc3\xa9", "n": 3, "flag": True, "none": None,
            "pair": (1, 2), "tags": frozenset({"a"}), "day": date(2024, 6, 1),
            "id": uuid.UUID(int=1), "colour": _Colour.RED, "nan": float("nan"),
            "inf": float("-inf"), "keys": {1: "one", 2.5: "x"}, "obj": _Node(next=[1]),
            "shared": [[1], [1]], "deep": _nested(MAX_PARAMETER_DEPTH),
        }
    )  # fmt: skip
    assert recorded["text"] == "héllo ✓"
    assert recorded["utf8"] == "café"
    assert recorded["pair"] == [1, 2]
    assert recorded["tags"] == ["a"]
    assert recorded["day"] == "2024-06-01"
    assert recorded["id"] == "00000000-0000-0000-0000-000000000001"
    assert recorded["colour"] == "red"
    assert (recorded["nan"], recorded["inf"]) == ("nan", "-inf")
    assert recorded["keys"] == {"1": "one", "2.5": "x"}
    assert recorded["obj"] == {"next": [1]}
    assert json.loads(json.dumps(recorded, allow_nan=False)) == recorded


def test_an_object_json_has_no_type_for_is_recorded_as_its_repr() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "Opaque(42)"

    assert jsonable_parameters({"o": Opaque(), "s": {Opaque()}}) == {
        "o": "Opaque(42)", "s": ["Opaque(42)"],
    }  # fmt: skip


@flow
def takes_anything(value: Any) -> str:
    return "ran"


def test_offline_call_with_unrecordable_parameters_raises_before_running() -> None:
    with pytest.raises(ParameterValidationError, match="parameter 'value' cannot be recorded"):
        takes_anything(b"\x80")
    assert takes_anything(b"fine") == "ran"


def test_recorded_offline_call_with_unrecordable_parameters_records_no_run(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    for value in (b"\xff", "\ud800", _ReprRaises(), _self_referencing(), _nested(5_000)):
        with pytest.raises(ParameterValidationError, match="cannot be recorded"):
            takes_anything(value)
    assert local.flow_runs == {}
    assert takes_anything("fine") == "ran"
    assert [run.parameters for run in local.flow_runs.values()] == [{"value": "fine"}]


@pytest.fixture
def real_runtime(aws: None, tmp_path: Any) -> Iterator[StratoflowClient]:
    from stratoflow.runtime.results import LocalResultStore

    app, key = in_process_api("stratoflow-params-test")
    settings = ClientSettings(api_url="http://api.local", api_key=key)
    with StratoflowClient(settings, transport=ApiTransport(app)) as client:
        config = RuntimeConfig(
            orchestrator=client, results=LocalResultStore(tmp_path / "results"),
            batch_seconds=0.05, log_seconds=0.05, console=False,
        )  # fmt: skip
        with use_runtime(config):
            yield client


def test_real_api_call_records_what_it_can_and_nothing_for_what_it_cannot(
    real_runtime: StratoflowClient,
) -> None:
    with pytest.raises(ParameterValidationError, match=r"lone surrogate \(\\udfff\)"):
        takes_anything({"name": "\udfff"})
    assert real_runtime.list_flow_runs(FlowRunFilter()).items == []
    assert takes_anything({"when": date(2024, 6, 1), "limit": float("inf")}) == "ran"
    (run,) = real_runtime.list_flow_runs(FlowRunFilter()).items
    assert run.parameters == {"value": {"when": "2024-06-01", "limit": "inf"}}


def test_the_deepest_parameter_the_sdk_accepts_is_one_the_api_accepts(
    real_runtime: StratoflowClient,
) -> None:
    assert takes_anything(_nested(MAX_PARAMETER_DEPTH)) == "ran"
    (run,) = real_runtime.list_flow_runs(FlowRunFilter()).items
    assert run.parameters == {
        "value": jsonable_parameters({"v": _nested(MAX_PARAMETER_DEPTH)})["v"]
    }
