"""Which optional extra a command needs, read from the installed distributions' metadata.

Commands that other distributions plug in (`stratoflow server` from `stratoflow-functions`)
may need packages that only an extra installs. These helpers turn "module X is missing" into
"install `dist[extra]`", with the extras' contents read from the metadata, so the message can
never drift from `pyproject.toml`.
"""

from __future__ import annotations

import re
from importlib import metadata

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(distribution: str) -> list[tuple[str, list[str]]]:
    """Each requirement of `distribution` as (name, the extras it belongs to)."""
    try:
        requires = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    parsed = []
    for requirement in requires:
        spec, _, marker = requirement.partition(";")
        found = _NAME.match(spec.strip())
        if found:
            parsed.append((found.group(0), _EXTRA_MARKER.findall(marker)))
    return parsed


def extra_requirements(distribution: str, extra: str) -> list[str]:
    """The names of the distributions that `distribution[extra]` adds (empty if unknown)."""
    return [name for name, extras in _requirements(distribution) if extra in extras]


def missing_requirements(distribution: str, extra: str) -> list[str]:
    """Those of `distribution[extra]`'s distributions that are not installed."""
    missing = []
    for name in extra_requirements(distribution, extra):
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def extra_providing(distribution: str, module: str) -> str | None:
    """The extra of `distribution` that requires the package `module` belongs to, if any."""
    wanted = _normalise(module.split(".")[0])
    for name, extras in _requirements(distribution):
        if extras and _normalise(name) == wanted:
            return extras[0]
    return None


def install_hint(distribution: str, extra: str | None) -> str:
    """The pip command that installs `distribution` with `extra`."""
    target = f"{distribution}[{extra}]" if extra else distribution
    return f"pip install '{target}'"
