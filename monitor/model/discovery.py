"""What discovery found: every integration identity of an environment, configured or not.

A :class:`DiscoveredIdentity` is one application user (by its app's client id) or one
non-interactive user (by its Entra object id) of a tenant, with its ``systemuser`` in each
environment it is a user of, what Entra ID says about it, and what could not be read
(``not_observed``: "<what>: <why>", never taken as healthy). Plain frozen records; the rules that
fill them live in :mod:`monitor.pipeline.discovery` (docs/discovery.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from monitor.model.observations import (
    NotObservedCause,
    RegisteredCredential,
    RoleGrant,
    UserAccount,
    UserLicences,
)

DiscoveredKind = Literal["application user", "non-interactive user"]


@dataclass(frozen=True)
class EnvironmentPresence:
    """The identity's ``systemuser`` in one environment and its roles (None: not observed)."""

    environment: str
    systemuser_id: str
    full_name: str
    domain_name: str
    access_mode: int
    disabled: bool
    roles: tuple[RoleGrant, ...] | None = None
    roles_reason: str = ""  # why the roles were not observed

    @property
    def privileged(self) -> tuple[RoleGrant, ...]:
        """The System Administrator / System Customizer grants (directly or via a team)."""
        return tuple(
            role
            for role in self.roles or ()
            if role.is_system_administrator or role.is_system_customizer
        )


@dataclass(frozen=True)
class CredentialEnd:
    """A registered secret or certificate of a discovered app, and whether a successor (another
    one of the same type, valid before it ends, ending later) is registered."""

    credential: RegisteredCredential
    has_successor: bool


@dataclass(frozen=True)
class NearestDeadline:
    at: datetime
    what: str


@dataclass(frozen=True)
class DiscoveredIdentity:
    """One integration identity found in a tenant's environments."""

    tenant: str
    kind: DiscoveredKind
    key: str  # the app's client id, or the user's Entra object id (lower case)
    display_name: str
    environments: tuple[EnvironmentPresence, ...]
    configured_as: str | None = None  # the name of the configured identity it is
    observer: bool = False  # the monitor's own observer of the tenant
    # application users
    client_id: str | None = None
    owners: tuple[str, ...] | None = None  # None: not observed
    credentials: tuple[CredentialEnd, ...] | None = None  # None: not observed
    service_principal_enabled: bool | None = None  # None: not observed (or none there)
    service_principal_found: bool | None = None  # None: not observed
    # non-interactive users
    user_principal_name: str | None = None
    account_enabled: bool | None = None
    last_password_change: datetime | None = None
    password_expires: datetime | None = None
    password_note: str = ""  # "never expires", or why the expiry is not predicted
    licences: tuple[str, ...] | None = None  # None: not observed
    not_observed: tuple[str, ...] = ()
    nearest: NearestDeadline | None = None
    # What posture watching records: the facts as read, and (fact kind, cause, reason) of those
    # that could not be read.
    account: UserAccount | None = None
    licence_fact: UserLicences | None = None
    unread: tuple[tuple[str, NotObservedCause, str], ...] = ()

    @property
    def configured(self) -> bool:
        return self.configured_as is not None

    @property
    def disabled(self) -> bool:
        """Disabled in Entra ID (account or service principal) or in every environment."""
        return (
            self.account_enabled is False
            or self.service_principal_enabled is False
            or (bool(self.environments) and all(p.disabled for p in self.environments))
        )

    @property
    def privileged(self) -> tuple[tuple[str, RoleGrant], ...]:
        """(environment, grant) of every System Administrator / Customizer role it holds."""
        return tuple(
            (presence.environment, role)
            for presence in self.environments
            for role in presence.privileged
        )

    @property
    def environment_names(self) -> tuple[str, ...]:
        return tuple(presence.environment for presence in self.environments)


@dataclass(frozen=True)
class NamedUserSuspect:
    """A licensed user whose imported daily usage looks like an integration's: above the
    configured share of its allocation on most of its reported days."""

    tenant: str
    caller_id: str  # the Entra object id the usage report names
    days: int  # days reported
    days_above: int  # days above the share
    highest_percent: float  # the highest day's share of the allocation
    average_requests: int  # requests per reported day
    entitled: int | None  # the allocation the report states
    configured_as: str | None = None
    user_principal_name: str | None = None  # None: not resolved (no observer, a failed read)
    display_name: str = ""
    lookup_problem: str = ""  # why the user could not be named

    @property
    def days_above_percent(self) -> float:
        return 100.0 * self.days_above / self.days if self.days else 0.0


WATCH_PREFIX = "discovered@"  # '@' is not allowed in configured identity names


def watch_name(kind: str, display_name: str, key: str) -> str:
    """Return the identity name a discovered identity is watched under
    (``discovered@erp-connector-6fde3eb7``): never one a configuration can hold."""
    slug = "".join(c if c.isalnum() else "-" for c in display_name.lower()).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return f"{WATCH_PREFIX}{slug[:40] or kind.split()[0]}-{key[:8]}"


def is_watched_name(name: str | None) -> bool:
    return bool(name) and str(name).startswith(WATCH_PREFIX)


@dataclass(frozen=True)
class TenantDiscovery:
    """What discovery found in one tenant; ``problems`` are the reads that failed as a whole
    ("environment contoso-prod: <why>"), ``read`` the environments listed."""

    tenant: str
    identities: tuple[DiscoveredIdentity, ...]
    read: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    # Environments that could not be listed: (environment, cause, reason).
    unread: tuple[tuple[str, NotObservedCause, str], ...] = ()
    named_users: tuple[NamedUserSuspect, ...] = ()


@dataclass(frozen=True)
class DiscoveryResult:
    at: datetime
    tenants: tuple[TenantDiscovery, ...]
    usage_note: str = ""  # why named users were not judged (no database, no report)

    @property
    def named_users(self) -> tuple[NamedUserSuspect, ...]:
        return tuple(user for tenant in self.tenants for user in tenant.named_users)

    @property
    def identities(self) -> tuple[DiscoveredIdentity, ...]:
        return tuple(identity for tenant in self.tenants for identity in tenant.identities)
