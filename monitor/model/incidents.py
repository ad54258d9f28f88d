"""Incidents as stored: the incident, its transitions, silences, and what the probe rules read.

An incident is a finding over time with a stable id (``CM-42``); every change of it is a stored
transition. Times are aware UTC. These are plain records: the decisions are
:mod:`monitor.incidents.machine`, the storage :mod:`monitor.store.alerting`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

INCIDENT_PREFIX = "CM-"


def incident_label(incident_id: int) -> str:
    """Return how people see an incident id: ``CM-42``."""
    return f"{INCIDENT_PREFIX}{incident_id}"


def parse_incident_label(text: str) -> int:
    """Given ``CM-42``, ``cm-42`` or ``42``, return 42. Raise ValueError for anything else."""
    value = text.strip()
    if value.upper().startswith(INCIDENT_PREFIX):
        value = value[len(INCIDENT_PREFIX) :]
    if not value.isdigit():
        raise ValueError(f"not an incident id: {text!r} (expected e.g. CM-42)")
    return int(value)


@dataclass(frozen=True)
class IncidentRecord:
    """An incident as stored (``id`` None before it is first written). Times are aware UTC."""

    id: int | None
    key: str
    kind: str
    level: str
    tenant: str
    identity: str | None
    environment: str | None
    subject: str
    summary: str
    remedy: str
    source: str
    deadline: datetime | None
    opened_at: datetime
    observed_at: datetime
    details: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledgement_note: str | None = None
    notified_at: datetime | None = None
    notified_level: str | None = None
    ladder_rung: int | None = None
    next_notice_at: datetime | None = None
    owed: str | None = None

    @property
    def label(self) -> str:
        return "CM-?" if self.id is None else incident_label(self.id)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class TransitionRecord:
    id: int
    incident_id: int
    at: datetime
    event: str
    level: str
    rung: int | None
    notified: bool
    note: str


@dataclass(frozen=True)
class SilenceRecord:
    """Notifications wait for incidents of ``identity``, of identities tagged ``tag``, or of
    ``tenant`` (exactly one is set) from ``starts_at`` until ``until``."""

    id: int
    identity: str | None
    tag: str | None
    tenant: str | None
    starts_at: datetime
    until: datetime
    reason: str
    created_at: datetime
    created_by: str | None
    removed_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.removed_at is None and self.starts_at <= now < self.until

    @property
    def scope(self) -> str:
        if self.identity is not None:
            return f"identity {self.identity}"
        if self.tag is not None:
            return f"tag {self.tag}"
        return f"tenant {self.tenant}"


@dataclass(frozen=True)
class ProbeHistory:
    """What the probe rules need beyond the current state of an identity in an environment.

    ``failing_since`` is when the current run of failures began (the change from ok, or the first
    result), whatever classes the failures had since; ``recovered_from`` is the outcome the
    newest change to ok came from. ``aadsts_code`` / ``http_status`` / ``correlation_id`` /
    ``stage`` belong to the newest result.
    """

    identity: str
    environment: str
    failing_since: datetime | None = None
    recovered_from: str | None = None
    aadsts_code: int | None = None
    http_status: int | None = None
    correlation_id: str | None = None
    stage: str | None = None
    message: str | None = None  # of the newest result (names e.g. a missing privilege)
