"""What a request must be before it is routed: a JSON body in UTF-8, nested no deeper than
`MAX_JSON_DEPTH`, whose strings (and the path's and query's) are valid Unicode.

The resolver parses bodies itself and meets anything else with an exception it does not map,
which became a 500: bytes that are not UTF-8 (`UnicodeDecodeError`), JSON nested past the
interpreter's recursion limit (`RecursionError`), a content type it has no parser for, multipart
without a boundary. Strings holding lone surrogates (`"\\ud800"` is valid JSON syntax) parsed,
then failed wherever they were encoded again: on the way into DynamoDB, half-way through a write.
`ApiApp.handle` calls `check_request` before routing, so the resolver only ever sees a body that
it can read and that the store can write, on Lambda and in the local stack alike.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from stratoflow.schemas import MAX_JSON_DEPTH
from stratoflow_functions.errors import (
    BadRequestError,
    UnprocessableError,
    UnsupportedMediaTypeError,
)

JSON_MEDIA_TYPE = "application/json"
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
"""How a lone surrogate gets into a parsed string: a JSON escape in the surrogate range (the raw
text is valid UTF-8, which cannot hold one). Only bodies with such an escape are searched."""


def check_request(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event to route: `event` with its body checked and its content type normalised.

    Raises:
        UnsupportedMediaTypeError: A body that is not `application/json` (415).
        BadRequestError: A body that is not UTF-8, not JSON, or nested too deeply (400).
        UnprocessableError: A string in the body, path or query that is not valid Unicode (422).
    """
    _check_text(str(event.get("rawPath") or ""), "the path")
    for name, value in (event.get("queryStringParameters") or {}).items():
        _check_text(f"{name}={value}", f"the query parameter {name!r}")
    raw = body_bytes(event)
    if not raw:
        return dict(event)
    _check_media_type(_header(event, "content-type"))
    text = _utf8(raw)
    check_json_value(parse_json(text), deep=_may_be_deep(text), odd=_may_hold_surrogates(text))
    headers = {**(event.get("headers") or {}), "content-type": JSON_MEDIA_TYPE}
    return {**event, "headers": headers}


def parse_json(text: str) -> Any:
    """`text` parsed as strict JSON (RFC 8259: no NaN or Infinity, no number out of range).

    Raises:
        BadRequestError: `invalid_json`, or `json_too_deep` when the parser ran out of stack.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError as exc:  # JSONDecodeError, NaN, 1e400, or an integer past the digit limit
        raise BadRequestError(
            f"the request body is not valid JSON: {exc}", code="invalid_json"
        ) from exc


def check_json_value(value: Any, *, deep: bool = True, odd: bool = True) -> None:
    """Refuse a parsed body nested past `MAX_JSON_DEPTH` or holding a string that is not valid
    Unicode. `deep` / `odd` False skip a check the raw text already ruled out.

    Raises:
        BadRequestError: `json_too_deep`.
        UnprocessableError: `invalid_unicode`, naming where the string is.
    """
    if deep and _nesting_exceeds(value, MAX_JSON_DEPTH):
        raise _too_deep()
    if odd:
        for text, where in _strings(value):
            _check_text(text, f"the string at {_location(where)}")


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels, walked without recursion (a
    recursive walk would fail on the very bodies it is meant to refuse)."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, level = stack.pop()
        if level > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return False


def _strings(value: Any) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """Every string and object key in `value`, with its location."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            yield node, where
        elif isinstance(node, dict):
            for key, child in node.items():
                stack.extend(((key, (*where, key)), (child, (*where, key))))
        elif isinstance(node, list):
            stack.extend((child, (*where, n)) for n, child in enumerate(node))


def _check_text(text: str, what: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnprocessableError(
            f"{what} is not valid Unicode: it holds a lone surrogate "
            f"({text[exc.start]!r}); send text as UTF-8",
            code="invalid_unicode",
        ) from exc


def body_bytes(event: Mapping[str, Any]) -> bytes:
    """The body as sent: base64-decoded when the event says so.

    Raises:
        BadRequestError: `invalid_body` for a body flagged base64 that is not.
    """
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequestError("the body is not valid base64", code="invalid_body") from exc


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


def _check_media_type(content_type: str | None) -> None:
    """JSON only, in UTF-8; a body without a content type is read as JSON."""
    if not content_type:
        return
    media_type, *params = (part.strip().lower() for part in content_type.split(";"))
    charsets = {value.strip('"') for key, _, value in (p.partition("=") for p in params)
                if key.strip() == "charset"}  # fmt: skip
    if media_type == JSON_MEDIA_TYPE and charsets <= {"utf-8", "utf8"}:
        return
    raise UnsupportedMediaTypeError(
        f"the body is {content_type!r}; the API reads only '{JSON_MEDIA_TYPE}' (UTF-8)"
    )


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError(
            f"the body is not valid UTF-8 (byte {exc.start}); JSON bodies are UTF-8",
            code="invalid_encoding",
        ) from exc


def _may_be_deep(text: str) -> bool:
    return text.count("[") + text.count("{") > MAX_JSON_DEPTH


def _may_hold_surrogates(text: str) -> bool:
    return SURROGATE_ESCAPE.search(text) is not None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 would be stored as null (JSON has no infinity)
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _too_deep() -> BadRequestError:
    return BadRequestError(
        f"the body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep",
        code="json_too_deep",
    )


def _location(where: tuple[str | int, ...]) -> str:
    return "body" + "".join(f"[{part!r}]" for part in where)
