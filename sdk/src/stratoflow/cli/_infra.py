"""`stratoflow deploy`'s infrastructure settings: `--infra-file FILE` and `--set KEY=VALUE`.

The file (JSON, or TOML by its `.toml` suffix) gives a base; each `--set` is laid over it, a
dotted key reaching into nested settings (`env.FOO=bar`, `resources.limits.cpu=2`; a segment in
double quotes may hold dots: `labels."example.com/team"=data`), a value that parses as JSON taken
as JSON, else as a string. The result is checked with the same settings models the API uses,
so a bad setting is a message naming it (exit 2) before anything is sent.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from stratoflow.cli._common import BadInputError
from stratoflow.cli._inputs import parse_value
from stratoflow.infrastructure import InfraSettingsError, settings_for
from stratoflow.schemas import InfrastructureType


def infra_overrides(
    infra: InfrastructureType, file: Path | None, pairs: Iterable[str]
) -> dict[str, Any]:
    """The deployment's `infra_overrides` from the file and the `--set` pairs, checked.

    Raises:
        BadInputError: an unreadable file, a malformed pair, or a setting the model refuses.
    """
    values = read_infra_file(file) if file is not None else {}
    for pair in pairs:
        path, value = parse_set(pair)
        set_path(values, path, value, pair)
    try:
        settings_for(infra, values)
    except InfraSettingsError as exc:
        raise BadInputError(f"invalid infrastructure settings: {exc.message}") from exc
    return values


def read_infra_file(file: Path) -> dict[str, Any]:
    """A settings file's content: a JSON object, or a TOML table for a `.toml` file.

    Raises:
        BadInputError: the file cannot be read or parsed, or is not an object.
    """
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"--infra-file {file}: cannot read it ({exc})") from exc
    is_toml = file.suffix.lower() == ".toml"
    try:
        content: Any = tomllib.loads(text) if is_toml else json.loads(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError and JSONDecodeError are ValueErrors
        kind = "TOML" if is_toml else "JSON (name the file *.toml for TOML)"
        raise BadInputError(f"--infra-file {file}: not valid {kind}: {exc}") from exc
    if not isinstance(content, dict):
        raise BadInputError(f"--infra-file {file}: expected an object of settings")
    return content


def parse_set(pair: str) -> tuple[list[str], Any]:
    """`KEY=VALUE` as the key's path and the value.

    Raises:
        BadInputError: no `=`, or an empty or unterminated key segment.
    """
    key, sep, raw = pair.partition("=")
    if not sep:
        raise BadInputError(f"invalid --set {pair!r}: expected KEY=VALUE")
    return split_key(key, pair), parse_value(raw)


def split_key(key: str, pair: str) -> list[str]:
    """A dotted key's segments; `"..."` quotes a segment that holds dots.

    Raises:
        BadInputError: an empty segment or an unterminated quote.
    """
    segments: list[str] = []
    rest = key.strip()
    while True:
        if rest.startswith('"'):
            end = rest.find('"', 1)
            if end < 0:
                raise BadInputError(f"invalid --set {pair!r}: unterminated quote in the key")
            segment, rest = rest[1:end], rest[end + 1 :]
        else:
            segment, _, tail = rest.partition(".")
            rest = f".{tail}" if tail or rest.endswith(".") else ""
        if not segment:
            raise BadInputError(f"invalid --set {pair!r}: empty key segment")
        segments.append(segment)
        if not rest:
            return segments
        if not rest.startswith("."):
            raise BadInputError(f"invalid --set {pair!r}: expected '.' after a quoted segment")
        rest = rest[1:]


def set_path(values: dict[str, Any], path: list[str], value: Any, pair: str) -> None:
    """Set `value` at `path` in `values`, creating the tables on the way.

    Raises:
        BadInputError: a segment on the way holds a value that is not a table.
    """
    table = values
    for depth, segment in enumerate(path[:-1]):
        child = table.setdefault(segment, {})
        if not isinstance(child, dict):
            where = ".".join(path[: depth + 1])
            raise BadInputError(f"invalid --set {pair!r}: {where} is already set to {child!r}")
        table = child
    table[path[-1]] = value
