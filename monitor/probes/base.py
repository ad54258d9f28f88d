"""The result of one probe of one identity in one environment."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from monitor.outcomes import Outcome

Stage = Literal["token", "dataverse", "guard", "deadline"]


@dataclass(frozen=True)
class RateLimit:
    """Dataverse service-protection headroom read from ``x-ms-ratelimit-*`` response headers."""

    burst_remaining: int | None = None  # x-ms-ratelimit-burst-remaining-xrm-requests
    time_remaining: int | None = None  # x-ms-ratelimit-time-remaining-xrm-requests, in ms
    retry_after_seconds: int | None = None  # Retry-After on a 429


@dataclass(frozen=True)
class ProbeResult:
    """One probe of one identity in one environment.

    ``attempted`` is False when no sign-in was tried (the lockout guard held it back, or an
    earlier environment of the same identity already failed definitively): ``outcome`` then
    repeats the answer that caused the hold.
    """

    identity: str
    environment: str
    tenant: str
    credential_type: str
    started_at: datetime  # aware, UTC
    duration_ms: int
    outcome: Outcome
    stage: Stage
    attempted: bool = True
    message: str = ""  # sanitised, one line, never a secret
    aadsts_code: int | None = None
    oauth_error: str | None = None
    http_status: int | None = None
    dataverse_error_code: str | None = None
    correlation_id: str | None = None
    trace_id: str | None = None
    token_source: str | None = None
    rate_limit: RateLimit = field(default_factory=RateLimit)
    credential_fingerprint: str | None = None
    user_id: str | None = None  # Dataverse systemuserid from WhoAmI
    organization_id: str | None = None

    def evolve(self, **changes: object) -> ProbeResult:
        return replace(self, **changes)  # type: ignore[arg-type]
