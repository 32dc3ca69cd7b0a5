"""What the offline orchestrator keeps besides runs: concurrency-slot leases and the result cache.

Neither decides anything. `SlotLeases` holds, per tag, each holder's lease expiry and a version
bumped by every change; it answers the kernel's `TagSlots` (via `TagSlots.from_leases`) and
applies a plan's `SlotTake`s and `SlotGiveBack`s. `ResultCache` holds the entries the kernel's
`cache_entry` names, in memory and, given a folder, as one JSON file per key, so offline caching
also works across processes; the kernel's `UseCachedResult` decides whether an entry is usable.
Callers hold the orchestrator's lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from uuid import UUID

from pydantic import ValidationError

from stratoflow.orchestration import SlotGiveBack, SlotTake, TagSlots
from stratoflow.schemas import State


class SlotLeases:
    """Concurrency-slot leases by tag: holder → lease expiry, with a version per tag."""

    def __init__(self) -> None:
        self._leases: dict[str, dict[UUID, datetime]] = {}
        self._versions: dict[str, int] = {}

    def slots(self, tag: str, limit: int, holder: UUID, now: datetime) -> TagSlots:
        """The limit of `tag` as the kernel reads it for `holder` at `now`."""
        leases = self._leases.get(tag, {})
        version = self._versions.get(tag, 0)
        return TagSlots.from_leases(tag, limit, leases, holder, now, version)

    def holders(self, tag: str) -> dict[UUID, datetime]:
        """A copy of `tag`'s leases (expired ones included until a take evicts them)."""
        return dict(self._leases.get(tag, {}))

    def apply(self, take: Iterable[SlotTake], give_back: Iterable[SlotGiveBack]) -> None:
        """Apply a plan's slot changes: take each lease (evicting expired ones), give back."""
        for lease in take:
            # The plan was computed under the same lock, so the limit is still as it read it.
            assert self._versions.get(lease.tag, 0) == lease.read_version, "slot read went stale"
            leases = self._leases.setdefault(lease.tag, {})
            for holder in lease.evict:
                leases.pop(holder, None)
            leases[lease.holder] = lease.expires
            self._bump(lease.tag)
        for returned in give_back:
            if self._leases.get(returned.tag, {}).pop(returned.holder, None) is not None:
                self._bump(returned.tag)

    def renew(self, holder: UUID, tags: Iterable[str], now: datetime, expires: datetime) -> None:
        """Move `holder`'s live leases of `tags` to `expires` (a heartbeat keeps them held);
        a lease that expired stays expired: its slot may have been counted free already."""
        for tag in tags:
            leases = self._leases.get(tag, {})
            if leases.get(holder, now) > now:
                leases[holder] = max(leases[holder], expires)

    def _bump(self, tag: str) -> None:
        self._versions[tag] = self._versions.get(tag, 0) + 1


class ResultCache:
    """Cache entries by key, in memory and (given `folder`) one JSON file per key.

    Args:
        folder: where to keep the index; in memory only if None.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self._entries: dict[str, State] = {}
        self._folder = folder

    def get(self, key: str | None) -> State | None:
        """The entry stored for `key`, if any (whether it is still usable is the kernel's call)."""
        if not key:
            return None
        return self._entries.get(key) or self._read(key)

    def put(self, key: str, state: State) -> None:
        """Store `state` as the entry of `key`."""
        self._entries[key] = state
        path = self._file(key)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(state.model_dump_json(), encoding="utf-8")

    def _file(self, key: str) -> Path | None:
        if self._folder is None:
            return None
        return self._folder / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def _read(self, key: str) -> State | None:
        path = self._file(key)
        if path is None or not path.exists():
            return None
        try:
            return State.model_validate_json(path.read_bytes())
        except ValidationError:
            return None  # a corrupt index entry is a cache miss, never a failure


__all__ = ["ResultCache", "SlotLeases"]
