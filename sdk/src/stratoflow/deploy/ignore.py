"""Which files of a project go into a code bundle: `.stratoflowignore`, read like `.gitignore`.

Supported: blank lines and `#` comments, `!` to re-include, a trailing `/` for folders only, a
leading or inner `/` to anchor a pattern at the project root, `*`, `?`, `[...]` and `**`. As in
git, the last matching pattern wins and a file inside an ignored folder cannot be re-included
(the walk never enters that folder). Some folders are never packed, whatever the file says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

IGNORE_FILE = ".stratoflowignore"
ALWAYS_SKIPPED = frozenset({".git", "__pycache__", ".venv", "node_modules"})
"""Folder names that never belong in a bundle (history, caches, environments)."""


@dataclass(frozen=True)
class IgnoreRule:
    """One pattern line: what it matches and whether it ignores or re-includes."""

    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


@dataclass(frozen=True)
class IgnoreRules:
    """The rules of one project, in file order."""

    rules: tuple[IgnoreRule, ...] = ()

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> IgnoreRules:
        """Parse gitignore-style lines."""
        return cls(tuple(rule for line in lines if (rule := parse_rule(line)) is not None))

    @classmethod
    def for_project(cls, root: Path) -> IgnoreRules:
        """The rules in `root/.stratoflowignore` (none when there is no such file)."""
        path = root / IGNORE_FILE
        return cls.from_lines(path.read_text().splitlines()) if path.is_file() else cls()

    def ignored(self, relative: str, is_dir: bool) -> bool:
        """Whether a path (posix, relative to the project root) is left out of the bundle."""
        if is_dir and relative.rsplit("/", 1)[-1] in ALWAYS_SKIPPED:
            return True
        verdict = False
        for rule in self.rules:
            if (is_dir or not rule.dir_only) and rule.regex.fullmatch(relative):
                verdict = not rule.negate
        return verdict


def parse_rule(line: str) -> IgnoreRule | None:
    """One line of an ignore file as a rule (None for blanks and comments)."""
    body = line.rstrip()
    if not body or body.startswith("#"):
        return None
    negate = body.startswith("!")
    body = body[1:] if negate else body
    if body.startswith(("\\#", "\\!")):
        body = body[1:]
    dir_only = body.endswith("/")
    body = body.rstrip("/")
    if not body:
        return None
    anchored = "/" in body
    prefix = "" if anchored else "(?:.*/)?"  # a bare name matches at any depth
    regex = re.compile(prefix + translate(body.lstrip("/")))
    return IgnoreRule(regex=regex, negate=negate, dir_only=dir_only)


def translate(pattern: str) -> str:
    """A glob pattern (with `**`) as a regular expression over posix paths."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        piece, i = _next_piece(pattern, i)
        out.append(piece)
    return "".join(out)


def _next_piece(pattern: str, i: int) -> tuple[str, int]:
    """The regex for the glob token at `i`, and where the next token starts."""
    if pattern.startswith("**/", i):
        return "(?:.*/)?", i + 3
    if pattern.startswith("/**", i) and i + 3 == len(pattern):
        return "/.*", i + 3
    if pattern.startswith("**", i):
        return ".*", i + 2
    char = pattern[i]
    if char == "*":
        return "[^/]*", i + 1
    if char == "?":
        return "[^/]", i + 1
    if char == "[":
        return _char_class(pattern, i)
    return re.escape(char), i + 1


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    first = i + 2 if pattern.startswith("[!", i) else i + 1
    end = pattern.find("]", first + 1)  # a `]` right after `[` (or `[!`) is a literal member
    if end == -1:
        return re.escape("["), i + 1
    members = pattern[i + 1 : end]
    if members.startswith("!"):
        members = "^" + members[1:]
    return "[" + members.replace("\\", "\\\\") + "]", end + 1
