"""The finding: one problem an identity (or a tenant / environment) has at one moment."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType


class Level(enum.StrEnum):
    """How urgent a finding is. ``info`` is advice that never pages anyone."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


class FindingKind(enum.StrEnum):
    """What kind of problem. Incident ids, routing and remedies key on it."""

    CREDENTIAL_BROKEN = "credential_broken"  # a probe got a definitive refusal
    CANNOT_VERIFY = "cannot_verify"  # probes keep failing for transient reasons
    CREDENTIAL_EXPIRING = "credential_expiring"  # client secret / certificate end date
    PASSWORD_EXPIRING = "password_expiring"  # noqa: S105 (a kind name) predicted password expiry
    ACCOUNT_DISABLED = "account_disabled"  # Entra account / service principal / systemuser
    ACCOUNT_LOCKED = "account_locked"
    LICENCE = "licence"  # licence lost / suspended, no spare licence
    NOT_IN_ENVIRONMENT = "not_in_environment"
    SECURITY_ROLE = "security_role"  # no security role, or a role lacking a needed privilege
    MAINTENANCE = "maintenance"  # an environment in administration mode (planned)
    OVER_PRIVILEGED = "over_privileged"  # System Administrator / Customizer roles
    IDENTITY_TYPE = "identity_type"  # a named licensed user runs an integration, etc.
    CAPACITY = "capacity"  # non-interactive users 7 of 7
    USAGE = "usage"  # API allocation / service protection headroom
    NOT_OBSERVED = "not_observed"  # a fact could not be read (missing permission, no observer)


@dataclass(frozen=True)
class Finding:
    """A problem, as of ``observed_at``, with what it means, by when, and how to fix it.

    ``key`` is stable for the same problem across evaluations (kind + scope + subject id), so
    incidents can be opened once and resolved when the key stops appearing. ``subject`` names the
    exact thing in plain words ("client secret 'prod-2025'"); ``deadline`` is when it will break
    (or broke); ``source`` says where the facts came from ("graph", "certificate file",
    "configuration", "probe", "dataverse", "usage import").
    """

    key: str
    kind: FindingKind
    level: Level
    tenant: str
    identity: str | None
    environment: str | None
    subject: str
    summary: str
    remedy: str
    observed_at: datetime
    source: str
    deadline: datetime | None = None
    details: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @staticmethod
    def make_key(
        kind: FindingKind,
        *,
        tenant: str,
        identity: str | None = None,
        environment: str | None = None,
        subject_id: str = "",
    ) -> str:
        """Return the stable key of a finding: ``kind:tenant/identity/environment:subject_id``."""
        scope = "/".join(part or "-" for part in (tenant, identity, environment))
        return f"{kind.value}:{scope}:{subject_id}"

    @classmethod
    def create(
        cls,
        kind: FindingKind,
        level: Level,
        *,
        tenant: str,
        identity: str | None,
        environment: str | None,
        subject: str,
        summary: str,
        remedy: str,
        observed_at: datetime,
        source: str,
        subject_id: str = "",
        key: str | None = None,
        deadline: datetime | None = None,
        details: Mapping[str, object] | None = None,
    ) -> Finding:
        """Return a finding keyed by its kind, scope and *subject_id* (:meth:`make_key`), or by
        *key* where the finding's own scope says more than its key (an identity's only
        environment, named in a finding about the identity)."""
        if key is None:
            key = cls.make_key(
                kind,
                tenant=tenant,
                identity=identity,
                environment=environment,
                subject_id=subject_id,
            )
        return cls(
            key=key,
            kind=kind,
            level=level,
            tenant=tenant,
            identity=identity,
            environment=environment,
            subject=subject,
            summary=summary,
            remedy=remedy,
            observed_at=observed_at,
            source=source,
            deadline=deadline,
            details=MappingProxyType(dict(details or {})),
        )
