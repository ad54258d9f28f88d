"""The monitor's own footprint: how many requests it made as each identity, per UTC day.

Counted from the stored probe results, so it is what the monitor did, not what it planned. What
counts as which request, and what that costs of an allocation: ``docs/usage.md``, "Footprint".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from monitor.model.usage import ProbeTally


@dataclass(frozen=True)
class Footprint:
    """What the monitor sent as one identity on one UTC day."""

    identity: str
    day: date
    probes: int
    held: int
    token_requests: int
    user_realm_requests: int
    dataverse_requests: int

    @property
    def entra_requests(self) -> int:
        return self.token_requests + self.user_realm_requests


def footprint(tallies: Iterable[ProbeTally]) -> list[Footprint]:
    """Given per-day tallies of stored results, return the footprint per identity and day,
    ordered by identity and day."""
    totals: dict[tuple[str, date], list[int]] = {}
    for tally in tallies:
        item = totals.setdefault((tally.identity, tally.day), [0, 0, 0, 0, 0])
        item[0] += tally.attempted
        item[1] += tally.held
        item[2] += tally.attempted
        item[3] += tally.attempted if tally.credential_type == "password" else 0
        item[4] += tally.signed_in
    return [Footprint(identity, day, *values) for (identity, day), values in sorted(totals.items())]
