"""The monitor's own footprint: how many requests it made as each identity, per UTC day.

Counted from the stored probe results (one per identity, environment and probe), so it is what
the monitor did, not what it planned. The formula, per identity and day:

* **token requests** (to Entra ID) = attempted results. Each attempted probe of an environment
  builds a fresh msal application and sends exactly one token request; a held result
  (``attempted=False``: lockout guard, ``Retry-After``, an earlier environment already failed)
  sends nothing.
* **user-realm lookups** (to Entra ID) = attempted results of password identities: msal's ROPC
  flow asks ``/common/userrealm/{username}`` before the token request.
* **Dataverse requests** = attempted results that got a token (stage ``dataverse``, or a
  deadline after the sign-in): one WhoAmI each. WhoAmI counts against the service-protection
  limits like any request (1 of 6,000 per 5 minutes); it is not a create / read / update /
  delete, assign or share operation, so it most likely does not count as a Power Platform
  request at all (docs/platform.md, "Power Platform requests": an inference, Microsoft does not
  list it) — the footprint shows it as "at most".
* Not attributed to an identity: one OpenID discovery GET per tenant per process and day (the
  shared discovery cache keeps it), which is the tenant's, not any identity's.

Probing every 5 minutes in one environment is 288 token requests and at most 288 WhoAmI calls a
day: 0.7% of the smallest licensed allocation (40,000 for a Dynamics 365 licence), and 0.06% of
the smallest tenant pool (500,000), if WhoAmI counted at all.
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
