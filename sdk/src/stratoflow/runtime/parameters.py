"""Flow parameters: bound to the signature and validated against the type hints before a run.

Validation is pydantic's (lax mode, so `"3"` becomes `3` for an `int` hint, as a CLI or a
deployment passes strings); a value that cannot be coerced is a `ParameterValidationError`
naming the parameter. Parameters are recorded as JSON; what JSON cannot hold is recorded as its
`repr`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

from pydantic import ConfigDict, ValidationError, create_model
from pydantic_core import to_jsonable_python

from stratoflow.exceptions import ParameterValidationError

_CONFIG = ConfigDict(arbitrary_types_allowed=True)


def bind_arguments(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Bind a call's arguments to `fn`'s parameter names, defaults applied.

    Raises:
        ParameterValidationError: the arguments do not fit the signature.
    """
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
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
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = ... if param.default is param.empty else param.default
        fields[name] = (hints.get(name, Any), default)
    return create_model(f"{fn.__name__}_parameters", __config__=_CONFIG, **fields)


def jsonable_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON-able values, with `repr` for anything JSON cannot hold."""
    result: dict[str, Any] = to_jsonable_python(parameters, fallback=repr)
    return result
