"""Flow parameters: bound to the signature and validated against the type hints before a run.

Validation is pydantic's (lax mode, so `"3"` becomes `3` for an `int` hint, as a CLI or a
deployment passes strings); a value that cannot be coerced is a `ParameterValidationError`
naming the parameter. Parameters are recorded as JSON: objects JSON has no type for are recorded
as their `repr`, non-finite floats as `"nan"`/`"inf"`/`"-inf"`, and a value that cannot be
recorded faithfully or in bounded work (bytes that are not UTF-8, a string with a lone
surrogate, an object whose `repr` raises, a container that holds itself, nesting deeper than
`MAX_PARAMETER_DEPTH` or more than `MAX_PARAMETER_VALUES` values) is a
`ParameterValidationError` naming the parameter and where inside it the problem is.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import ConfigDict, ValidationError, create_model
from pydantic_core import to_jsonable_python

from stratoflow.exceptions import ParameterValidationError
from stratoflow.schemas import MAX_JSON_DEPTH, MAX_PARAMETERS_BYTES

_CONFIG = ConfigDict(arbitrary_types_allowed=True)
PARAMETERS_ENVELOPE_DEPTH = 2
"""The levels around a parameter's value in the request that records it: the body object and
its `parameters` object (`POST /flow-runs`)."""
MAX_PARAMETER_DEPTH = MAX_JSON_DEPTH - PARAMETERS_ENVELOPE_DEPTH
"""How deeply lists and dicts may nest inside one parameter: as deep as the API then accepts
the request that records it (`MAX_JSON_DEPTH` for the whole body)."""
MAX_PARAMETER_VALUES = MAX_PARAMETERS_BYTES
"""How many values (scalars and containers) all parameters may hold together: each takes at
least a byte of JSON, so more could never fit the API's limit, and the walk stays bounded even
for a structure that shares the same list many times over."""


@functools.lru_cache(maxsize=4096)
def _cached_signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)


def signature_of(fn: Callable[..., Any]) -> inspect.Signature:
    """`inspect.signature(fn)`, computed once per function (it costs more than the rest of a
    trivial task's setup). Signatures are immutable, so one serves every call and thread."""
    try:
        return _cached_signature(fn)
    except TypeError:  # an unhashable callable: nothing to key the cache by
        return inspect.signature(fn)


@dataclass(frozen=True)
class _Binder:
    """How to bind a call quickly: for a function whose parameters are all positional-or-
    keyword, a call is a zip of names and values plus defaults; anything else (or a call that
    does not fit) goes through `Signature.bind`, which also words the error."""

    signature: inspect.Signature
    names: tuple[str, ...] | None
    defaults: Mapping[str, Any]

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        arguments = self._fast(args, kwargs) if self.names is not None else None
        if arguments is None:
            bound = self.signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return bound
        return inspect.BoundArguments(self.signature, arguments)

    def _fast(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        names = self.names
        assert names is not None
        if len(args) > len(names):
            return None
        arguments = dict(zip(names, args, strict=False))
        from_kwargs = 0
        for name in names[len(args) :]:
            if name in kwargs:
                arguments[name] = kwargs[name]
                from_kwargs += 1
            elif name in self.defaults:
                arguments[name] = self.defaults[name]
            else:
                return None
        return arguments if from_kwargs == len(kwargs) else None  # else unknown or repeated


@functools.lru_cache(maxsize=4096)
def _cached_binder(fn: Callable[..., Any]) -> _Binder:
    signature = signature_of(fn)
    params = signature.parameters.values()
    simple = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
    names = tuple(signature.parameters) if simple else None
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    return _Binder(signature, names, defaults)


def bind_call(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> inspect.BoundArguments:
    """`signature.bind(*args, **kwargs)` with defaults applied, fast for plain functions.

    Raises:
        TypeError: the arguments do not fit the signature.
    """
    try:
        binder = _cached_binder(fn)
    except TypeError:  # unhashable callable
        bound = inspect.signature(fn).bind(*args, **kwargs)
        bound.apply_defaults()
        return bound
    return binder.bind(args, kwargs)


def bind_arguments(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Bind a call's arguments to `fn`'s parameter names, defaults applied.

    Raises:
        ParameterValidationError: the arguments do not fit the signature.
    """
    try:
        bound = signature_of(fn).bind(*args, **kwargs)
    except TypeError as exc:
        raise ParameterValidationError(f"{fn.__name__}(): {exc}") from exc
    bound.apply_defaults()
    return dict(bound.arguments)


def validate_parameters(fn: Callable[..., Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Validate (and coerce) bound parameters against `fn`'s type hints.

    Raises:
        ParameterValidationError: a value does not match its type hint.
    """
    model = _parameter_model(fn)
    named = {key: value for key, value in parameters.items() if key in model.model_fields}
    try:
        validated = model.model_validate(named)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ParameterValidationError(f"invalid parameters for {fn.__name__}: {problems}") from exc
    return {**parameters, **{name: getattr(validated, name) for name in named}}


@functools.cache
def _parameter_model(fn: Callable[..., Any]) -> Any:
    try:
        hints = get_type_hints(fn)
    except (NameError, TypeError):
        hints = {}  # unresolvable hints are not validated rather than failing every run
    fields: dict[str, Any] = {}
    for name, param in signature_of(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = ... if param.default is param.empty else param.default
        fields[name] = (hints.get(name, Any), default)
    return create_model(f"{fn.__name__}_parameters", __config__=_CONFIG, **fields)


def jsonable_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON values, as they are recorded on the flow run.

    Raises:
        ParameterValidationError: a parameter cannot be recorded; the message names it, says
            where inside it and why.
    """
    walk = _Walk()
    recorded: dict[str, Any] = {}
    for name, value in parameters.items():
        label = _printable(str(name))
        try:
            recorded[_key(name, label)] = walk.value(value, label, 0)
        except _UnrecordableError as exc:
            at = "" if exc.where == label else f" at {_shortened(exc.where)}"
            raise ParameterValidationError(
                f"parameter {label!r} cannot be recorded{at}: {exc.reason}"
            ) from exc.__cause__
    return recorded


def _printable(text: str) -> str:
    """`text` with lone surrogates escaped, so an error message can always be printed."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _shortened(where: str, limit: int = 80) -> str:
    return where if len(where) <= limit else where[: limit - 3] + "..."


class _UnrecordableError(Exception):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


_SCALARS = (type(None), bool, int)


@dataclass
class _Walk:
    """One conversion: the values seen so far and the containers on the current path."""

    count: int = 0
    open: set[int] = field(default_factory=set)

    def value(self, value: Any, where: str, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_PARAMETER_VALUES:
            raise _UnrecordableError(where, f"more than {MAX_PARAMETER_VALUES} values in all")
        if type(value) in _SCALARS:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else repr(value)
        if type(value) is str:
            return _text(value, where)
        if isinstance(value, bytes | bytearray | memoryview):
            return _decoded(bytes(value), where)
        if isinstance(value, Mapping | list | tuple | set | frozenset):
            return self.container(value, where, depth + 1)
        return self.value(_converted(value, where), where, depth)

    def container(self, value: Any, where: str, depth: int) -> Any:
        if depth > MAX_PARAMETER_DEPTH:
            raise _UnrecordableError(where, f"nested deeper than {MAX_PARAMETER_DEPTH} levels")
        if id(value) in self.open:
            raise _UnrecordableError(where, "it contains itself")
        self.open.add(id(value))
        try:
            if isinstance(value, Mapping):
                return self.mapping(value, where, depth)
            return [self.value(v, f"{where}[{i}]", depth) for i, v in enumerate(value)]
        finally:
            self.open.discard(id(value))

    def mapping(self, value: Mapping[Any, Any], where: str, depth: int) -> dict[str, Any]:
        recorded: dict[str, Any] = {}
        for key, item in value.items():
            inner = f"{where}[{_label(key)}]"
            recorded[_key(key, inner)] = self.value(item, inner, depth)
        return recorded


def _text(value: str, where: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start : exc.end].encode("unicode_escape").decode("ascii")
        raise _UnrecordableError(
            where, f"a string with a lone surrogate ({bad}) is not valid Unicode text"
        ) from exc
    return value


def _decoded(value: bytes, where: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _UnrecordableError(
            where, "bytes that are not UTF-8 text: pass them base64-encoded, or by reference"
        ) from exc


def _key(key: Any, where: str) -> str:
    if type(key) is str:
        return _text(key, where)
    if key is None or isinstance(key, bool | int | float):
        return _text(to_jsonable_python({key: 0}).popitem()[0], where)
    return _text(_safe_repr(key, where), where)


def _label(key: Any) -> str:
    try:
        return repr(key)
    except Exception:
        return f"<{type(key).__name__}>"


def _converted(value: Any, where: str) -> Any:
    """A value JSON has no type for: pydantic's JSON form (dates, UUIDs, models...) or repr."""
    try:
        return to_jsonable_python(value, fallback=lambda obj: _safe_repr(obj, where))
    except _UnrecordableError:
        raise
    except Exception as exc:  # a model that refers to itself, a property that raises...
        raise _UnrecordableError(
            where, f"a {type(value).__name__} object that cannot be converted to JSON"
        ) from exc


def _safe_repr(value: Any, where: str) -> str:
    try:
        return repr(value)
    except Exception as exc:
        raise _UnrecordableError(
            where, f"a {type(value).__name__} object whose repr() raised {type(exc).__name__}"
        ) from exc
