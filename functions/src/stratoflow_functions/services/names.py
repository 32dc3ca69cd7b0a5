"""Readable, deterministic run names (like Prefect's `crimson-fox`), derived from the run id."""

from __future__ import annotations

from uuid import UUID

_ADJECTIVES = (
    "amber", "brave", "calm", "dapper", "eager", "fancy", "gentle", "happy", "icy", "jolly",
    "keen", "lucky", "mellow", "nimble", "olive", "proud", "quiet", "rapid", "silver", "tidy",
    "urban", "vivid", "witty", "young", "zesty", "bold", "crimson", "daring", "electric", "fuzzy",
    "golden", "humble",
)  # fmt: skip
_ANIMALS = (
    "albatross", "badger", "cheetah", "dolphin", "eagle", "falcon", "gecko", "heron", "ibis",
    "jaguar", "koala", "lemur", "marmot", "newt", "otter", "panda", "quail", "raven", "salmon",
    "tapir", "urchin", "vulture", "walrus", "yak", "zebra", "bison", "coyote", "dingo", "ermine",
    "ferret", "gazelle", "hare",
)  # fmt: skip


def run_name(run_id: UUID) -> str:
    """A two-word name that is the same every time for the same id."""
    value = run_id.int
    return f"{_ADJECTIVES[value % len(_ADJECTIVES)]}-{_ANIMALS[(value >> 8) % len(_ANIMALS)]}"
