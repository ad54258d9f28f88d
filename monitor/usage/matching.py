"""Which configured identity a report's "Caller ID" is.

A report names a caller by its Entra ID object id, never by anything the probe sees (WhoAmI's
``UserId`` is the per-environment ``systemuserid``). :class:`CallerDirectory` matches it by a
declared object id, then an observed one, then an application's client id; a caller id that fits
several identities is ambiguous and left unmatched: ``docs/usage.md``, "Matching callers".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CallerIdentity:
    """What the matcher needs to know of a configured identity."""

    name: str
    tenant: str
    kind: str  # "application" or "user"
    client_id: str
    object_id: str | None = None


@dataclass(frozen=True)
class ObservedObjectId:
    """An Entra object id observed for an identity, and where it was observed."""

    identity: str
    object_id: str
    source: str


@dataclass(frozen=True)
class CallerMatch:
    identity: str
    via: str  # how the caller id was tied to the identity, for people


class CallerDirectory:
    """Caller ID (lower case) -> identity, for one tenant."""

    def __init__(
        self, entries: Mapping[str, CallerMatch], ambiguous: Mapping[str, tuple[str, ...]]
    ) -> None:
        self._entries = dict(entries)
        self.ambiguous = dict(ambiguous)
        self._by_identity: dict[str, list[str]] = {}
        for key, match in sorted(self._entries.items()):
            self._by_identity.setdefault(match.identity, []).append(key)

    @classmethod
    def build(
        cls,
        tenant: str,
        identities: Iterable[CallerIdentity],
        observed: Iterable[ObservedObjectId] = (),
    ) -> CallerDirectory:
        """Return the directory of *tenant*'s identities (declared ids first, then observed
        ones, then client ids of applications; a stronger tie is never overridden)."""
        members = [identity for identity in identities if identity.tenant == tenant]
        names = {identity.name for identity in members}
        candidates: dict[str, dict[str, str]] = {}  # caller id -> identity -> via
        ranks: dict[str, int] = {}

        def offer(caller_id: str, identity: str, via: str, rank: int) -> None:
            key = caller_id.strip().lower()
            if not key:
                return
            best = ranks.get(key)
            if best is not None and best < rank:
                return
            if best is None or rank < best:
                candidates[key] = {}
                ranks[key] = rank
            candidates[key].setdefault(identity, via)

        for identity in members:
            if identity.object_id:
                offer(identity.object_id, identity.name, "object_id in the configuration", 0)
        for seen in observed:
            if seen.identity in names:
                offer(seen.object_id, seen.identity, f"object id observed by {seen.source}", 1)
        for identity in members:
            if identity.kind == "application":
                offer(identity.client_id, identity.name, "application (client) id", 2)
        entries: dict[str, CallerMatch] = {}
        ambiguous: dict[str, tuple[str, ...]] = {}
        for caller_id, found in candidates.items():
            if len(found) == 1:
                ((name, via),) = found.items()
                entries[caller_id] = CallerMatch(name, via)
            else:
                ambiguous[caller_id] = tuple(sorted(found))
        return cls(entries, ambiguous)

    def match(self, caller_id: str) -> CallerMatch | None:
        """Return the identity *caller_id* belongs to, or None (unknown or ambiguous)."""
        return self._entries.get(caller_id.strip().lower())

    def caller_ids(self, identity: str) -> list[str]:
        """Return every caller id that matches *identity*."""
        return list(self._by_identity.get(identity, ()))
