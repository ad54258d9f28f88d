"""Posture: deadlines (expiring secrets, certificates, passwords, licences), what each identity
observably is (application, non-interactive or interactive user; licences) and the advice.

Two sources:

* the configuration: a configured certificate file's own end date, known without any
  directory read;
* the directory facts of the posture feature (migration ``0003_posture``): the current value
  of every fact in ``posture_fact`` (``kind``, scope, ``source``, ``observed``, ``value`` as
  JSON), judged by that feature's own rules (:func:`monitor.findings.posture.evaluate_posture`)
  against the configuration, so the report says exactly what ``monitor check`` and the alerts
  say. Those rules need the configuration: without one there is a note instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.model.findings import Finding
from monitor.model.schema import TABLES, columns
from monitor.report.context import IdentityMeta
from monitor.report.database import ReportDatabase
from monitor.report.sources.base import Unavailable, read_table, to_record

if TYPE_CHECKING:
    from monitor.config.model import Config

REQUIRES = "requires the posture migration 0003_posture and a directory read by `monitor check`"
MISSING = f"no posture data recorded yet ({REQUIRES})"
NEEDS_CONFIG = "posture needs the configuration (--config): directory facts are judged against it"

# A stored fact is every column but its key and its link to the newest observation (the
# parameters of monitor.model.observations.stored_observation, which reads them).
COLUMNS = columns(
    "posture_fact", *sorted(TABLES["posture_fact"] - {"fact_key", "last_observation_id"})
)


@dataclass(frozen=True)
class Deadline:
    """Something an identity depends on that ends at ``ends_at``, and where that date came
    from."""

    identity: str
    environment: str | None
    kind: str  # secret, certificate, password, licence
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
    observed_at: datetime | None = None
    tenant: str = ""
    discovered: bool = False  # watched without being configured ([discovery] watch)


DISCOVERED = "discovered, not probed"


@dataclass(frozen=True)
class PostureData:
    """What the posture rules derived: deadlines soonest first, profiles by identity, and the
    findings (worst first)."""

    deadlines: tuple[Deadline, ...]
    profiles: Mapping[str, Profile]
    findings: tuple[Finding, ...]  # the posture rules' own findings (monitor.model.findings)


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


def evaluate(
    database: ReportDatabase, config: Config | None, now: datetime
) -> PostureData | Unavailable:
    """Return the posture of the current directory facts at *now*, or a note saying why there
    is none (no posture table, no directory read yet, no configuration)."""
    rows = read_table(database, "posture_fact", COLUMNS, MISSING, " ORDER BY fact_key")
    if isinstance(rows, Unavailable):
        return rows
    if not rows:
        return Unavailable(MISSING)
    if config is None:
        return Unavailable(NEEDS_CONFIG)
    # Imported here: only a report that has posture facts pays for the rules. (The ignore
    # keeps mypy quiet in a checkout that predates the posture feature; the posture_fact
    # table above only exists where its code does.)
    from monitor.findings.posture import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
        evaluate_posture,
    )
    from monitor.findings.watch import with_discovered
    from monitor.model.observations import stored_observation

    observations = []
    for row in rows:
        observation = to_record(
            stored_observation, COLUMNS, row, times=("since", "last_observed_at")
        )
        if observation is not None:  # None: a fact kind written by a newer monitor
            observations.append(observation)
    judged = with_discovered(config, observations)
    posture = evaluate_posture(observations, judged, now)
    deadlines: list[Deadline] = []
    profiles: dict[str, Profile] = {}
    for name, identity_posture in posture.identities.items():
        discovered = judged.identities[name].discovered
        profiles[name] = Profile(
            name,
            identity_posture.classification,
            tuple(identity_posture.licences or ()),
            tenant=identity_posture.tenant,
            discovered=discovered,
        )
        for deadline in identity_posture.deadlines:
            deadlines.append(
                Deadline(
                    identity=name,
                    environment=None,
                    kind=_deadline_kind(deadline.kind.value, deadline.what),
                    name=deadline.what,
                    ends_at=deadline.at,
                    source=f"{deadline.source} ({DISCOVERED})" if discovered else deadline.source,
                )
            )
    deadlines.sort(key=lambda item: item.ends_at)
    return PostureData(tuple(deadlines), profiles, tuple(posture.findings))


def _deadline_kind(finding_kind: str, what: str) -> str:
    text = what.lower()
    if finding_kind == "password_expiring" or "password" in text:
        return "password"
    if "certificate" in text:
        return "certificate"
    if "licen" in text:
        return "licence"
    return "secret"
