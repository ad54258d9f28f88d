"""Deadlines (expiring secrets, certificates, passwords, licences), identity profiles and
posture advice.

Two sources: the configuration (a configured certificate file's own end date, known without
any directory read) and the posture tables. The tables this module reads (the contract with
the posture feature; only this module changes if their shape does):

``credential_expiry``: one row per dated thing an identity depends on
    ``identity``, ``environment`` (NULL: tenant-wide), ``kind`` (``secret``, ``certificate``,
    ``password``, ``licence``), ``name`` (e.g. the secret's display name or hint, a SKU),
    ``ends_at`` (stored time), ``source`` (``graph``, ``certificate file``, ``declared``,
    ``predicted``), ``has_successor`` (NULL: not applicable), ``observed_at``.
``identity_profile``: one row per identity, the newest observation
    ``identity``, ``classification`` (``application user``, ``non-interactive user``,
    ``interactive user``), ``licences`` (comma-separated SKU names), ``observed_at``.
``posture_finding``: the current advice
    ``identity``, ``environment`` (NULL: not per environment), ``kind``, ``severity``
    (``critical``/``warning``/``notice``), ``message``, ``remedy``, ``observed_at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from monitor.report.context import IdentityMeta
from monitor.report.database import ReportDatabase
from monitor.report.sources.base import Unavailable, check_tables, stored, utc

REQUIRES = "requires the posture migration 0003_posture and a directory read by `monitor check`"
MISSING = f"no posture data recorded yet ({REQUIRES})"

EXPIRY_TABLES = {
    "credential_expiry": frozenset(
        {"identity", "environment", "kind", "name", "ends_at", "source", "has_successor"}
    )
}
PROFILE_TABLES = {
    "identity_profile": frozenset({"identity", "classification", "licences", "observed_at"})
}
FINDING_TABLES = {
    "posture_finding": frozenset(
        {"identity", "environment", "kind", "severity", "message", "remedy", "observed_at"}
    )
}


@dataclass(frozen=True)
class Deadline:
    """Something an identity depends on that ends at ``ends_at``, and where that date came
    from."""

    identity: str
    environment: str | None
    kind: str
    name: str
    ends_at: datetime
    source: str
    has_successor: bool | None = None

    @property
    def label(self) -> str:
        """Return e.g. "secret 'prod-2025'", or the name alone when it already says what it
        is ("client secret 'nightly'")."""
        if not self.name:
            return self.kind
        if self.kind in self.name.lower():
            return self.name
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Profile:
    identity: str
    classification: str
    licences: tuple[str, ...]
    observed_at: datetime | None


@dataclass(frozen=True)
class Finding:
    identity: str
    environment: str | None
    kind: str
    severity: str
    message: str
    remedy: str
    observed_at: datetime | None


def configured_deadlines(configured: Mapping[str, IdentityMeta]) -> list[Deadline]:
    """Return the end dates the configuration itself reveals: certificate files."""
    deadlines: list[Deadline] = []
    for meta in configured.values():
        if meta.certificate_not_after is not None:
            thumbprint = meta.certificate_thumbprint or ""
            deadlines.append(
                Deadline(
                    identity=meta.name,
                    environment=None,
                    kind="certificate",
                    name=f"file {thumbprint[:8]}".strip(),
                    ends_at=meta.certificate_not_after,
                    source="certificate file",
                )
            )
    return deadlines


def stored_deadlines(
    database: ReportDatabase, *, until: datetime | None = None
) -> list[Deadline] | Unavailable:
    """Return the stored deadlines ending before *until* (all if None), soonest first."""
    missing = check_tables(database, EXPIRY_TABLES, MISSING)
    if missing is not None:
        return missing
    sql = (
        "SELECT identity, environment, kind, name, ends_at, source, has_successor"
        " FROM credential_expiry"
    )
    parameters: list[object] = []
    if until is not None:
        sql += " WHERE ends_at < ?"
        parameters.append(stored(until))
    sql += " ORDER BY ends_at"
    result: list[Deadline] = []
    for (
        identity,
        environment,
        kind,
        name,
        ends_at,
        source,
        successor,
    ) in database.connection.execute(sql, parameters):
        end = utc(ends_at)
        assert end is not None
        result.append(
            Deadline(
                identity=identity,
                environment=environment,
                kind=kind,
                name=name or "",
                ends_at=end,
                source=source,
                has_successor=None if successor is None else bool(successor),
            )
        )
    return result


def profiles(database: ReportDatabase) -> dict[str, Profile] | Unavailable:
    """Return each identity's observed classification and licences, by identity."""
    missing = check_tables(database, PROFILE_TABLES, MISSING)
    if missing is not None:
        return missing
    result: dict[str, Profile] = {}
    rows = database.connection.execute(
        "SELECT identity, classification, licences, observed_at FROM identity_profile"
        " ORDER BY identity, observed_at"
    )
    for identity, classification, licences, observed_at in rows:
        names = tuple(item.strip() for item in (licences or "").split(",") if item.strip())
        result[identity] = Profile(identity, classification or "", names, utc(observed_at))
    return result


def findings(database: ReportDatabase) -> list[Finding] | Unavailable:
    """Return the current posture findings, ordered by identity."""
    missing = check_tables(database, FINDING_TABLES, MISSING)
    if missing is not None:
        return missing
    rows = database.connection.execute(
        "SELECT identity, environment, kind, severity, message, remedy, observed_at"
        " FROM posture_finding ORDER BY identity, environment, kind"
    )
    return [
        Finding(identity, environment, kind, severity, message or "", remedy or "", utc(observed))
        for identity, environment, kind, severity, message, remedy, observed in rows
    ]
