"""What a directory read observed, as plain frozen dataclasses (no I/O, no clock).

An :class:`Observation` is one fact about one thing (an identity's client secrets, a user's
licences, a role assignment, a tenant's SKU, an environment's non-interactive user count) with
its **source** (``graph``, ``dataverse``, ``certificate file``, ``configuration``) and the time
it was observed. A fact that could not be read is an observation too: ``fact`` is None, and
``cause`` / ``reason`` say why ("not observed: <why>") — it is never mistaken for a healthy one.

Facts serialise to JSON-able dicts (:meth:`Fact.to_json` / :func:`fact_from_json`) so that the
store can keep them and tell a changed fact from an unchanged one by comparing the JSON. A fact
never holds a secret or part of one: whether a registered client secret is the configured one is
decided by the reader (from Graph's three-character ``hint``) and stored as ``in_use`` only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, cast

Source = Literal["graph", "dataverse", "certificate file", "configuration"]
SOURCES: tuple[Source, ...] = ("graph", "dataverse", "certificate file", "configuration")

NotObservedCause = Literal[
    "no_observer",  # the tenant has no observer configured
    "sign_in",  # the observer could not sign in (or its token was refused)
    "permission",  # a Graph permission or a Dataverse privilege / membership is missing
    "throttled",  # 429 beyond what the pass is willing to wait for
    "unreachable",  # network, TLS, deadline
    "service_error",  # 5xx, unreadable answers
    "elsewhere",  # the app registration lives in another tenant
    "unsupported",  # the fact does not apply (e.g. password expiry set on-premises)
    "not_read",  # an earlier failure stopped the reads this fact depends on
]

# Dataverse's role templates are the same GUID in every environment (docs/platform.md,
# "Dataverse users and roles").
SYSTEM_ADMINISTRATOR_TEMPLATE = "627090ff-40a3-4053-8790-584edc5be201"
SYSTEM_CUSTOMIZER_TEMPLATE = "119f245c-3cc8-4b62-b31c-d1a046ced15d"
ACCESS_MODE_ADMINISTRATIVE = 1
ACCESS_MODE_NON_INTERACTIVE = 4
ACCESS_MODES = {
    0: "read-write",
    1: "administrative",
    2: "read",
    3: "support user",
    4: "non-interactive",
    5: "delegated admin",
}
# Graph's conventional "never expires" for a domain's passwordValidityPeriodInDays.
NEVER_EXPIRES_DAYS = 2147483647


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


class Fact:
    """Base of every fact: a kind name and a JSON form."""

    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fact:
        raise NotImplementedError


# --- application identities ---------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredCredential:
    """A client secret or certificate registered on an app registration (or its SP).

    ``in_use`` says the reader matched it to the configured credential: by ``keyId`` when the
    configuration pins one, else a secret by Graph's ``hint`` (the first three characters of
    the value) and a certificate by its thumbprint (``customKeyIdentifier``). Several secrets
    can share a hint; then each is ``in_use`` and the rules assume the earliest-ending one.
    """

    key_id: str
    type: Literal["client_secret", "certificate"]
    display_name: str
    start: datetime | None
    end: datetime | None
    in_use: bool
    origin: Literal["application", "service_principal"] = "application"
    thumbprint: str | None = None  # certificates: upper-case hex (SHA-1, or SHA-256)

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "type": self.type,
            "display_name": self.display_name,
            "start": _time(self.start),
            "end": _time(self.end),
            "in_use": self.in_use,
            "origin": self.origin,
            "thumbprint": self.thumbprint,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RegisteredCredential:
        kind: Literal["client_secret", "certificate"] = (
            "certificate" if data.get("type") == "certificate" else "client_secret"
        )
        origin: Literal["application", "service_principal"] = (
            "service_principal" if data.get("origin") == "service_principal" else "application"
        )
        return cls(
            key_id=str(data.get("key_id", "")),
            type=kind,
            display_name=str(data.get("display_name", "")),
            start=_parse_time(data.get("start")),
            end=_parse_time(data.get("end")),
            in_use=bool(data.get("in_use")),
            origin=origin,
            thumbprint=_str(data.get("thumbprint")),
        )

    def describe(self) -> str:
        noun = "client secret" if self.type == "client_secret" else "certificate"
        name = self.display_name or self.key_id
        return f"{noun} '{name}'"


MatchMethod = Literal["key_id", "hint", "thumbprint", "none"]


@dataclass(frozen=True)
class AppCredentials(Fact):
    """The credentials registered on an identity's (or the observer's) app registration.

    ``configured`` is what the configuration signs in with; ``matched_by`` how the credential in
    use was found (``none``: no registered credential matched it). ``configured_fingerprint`` is
    the keyed fingerprint of the configured credential when the match was made, so a rotated
    secret is noticed before the next scheduled read.
    """

    kind: ClassVar[str] = "app_credentials"
    client_id: str
    display_name: str
    configured: Literal["client_secret", "certificate"]
    matched_by: MatchMethod
    credentials: tuple[RegisteredCredential, ...] = ()
    configured_fingerprint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "display_name": self.display_name,
            "configured": self.configured,
            "matched_by": self.matched_by,
            "credentials": [credential.to_json() for credential in self.credentials],
            "configured_fingerprint": self.configured_fingerprint,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppCredentials:
        matched = data.get("matched_by")
        return cls(
            client_id=str(data.get("client_id", "")),
            display_name=str(data.get("display_name", "")),
            configured="certificate"
            if data.get("configured") == "certificate"
            else "client_secret",
            matched_by=cast(MatchMethod, matched)
            if matched in ("key_id", "hint", "thumbprint")
            else "none",
            credentials=tuple(
                RegisteredCredential.from_json(item)
                for item in data.get("credentials", [])
                if isinstance(item, Mapping)
            ),
            configured_fingerprint=_str(data.get("configured_fingerprint")),
        )

    @property
    def in_use(self) -> tuple[RegisteredCredential, ...]:
        return tuple(credential for credential in self.credentials if credential.in_use)


@dataclass(frozen=True)
class ServicePrincipal(Fact):
    """The identity's service principal in its tenant (``found`` False: none there)."""

    kind: ClassVar[str] = "service_principal"
    found: bool
    account_enabled: bool | None = None
    display_name: str = ""
    object_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "account_enabled": self.account_enabled,
            "display_name": self.display_name,
            "object_id": self.object_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServicePrincipal:
        return cls(
            found=bool(data.get("found")),
            account_enabled=_bool(data.get("account_enabled")),
            display_name=str(data.get("display_name", "")),
            object_id=_str(data.get("object_id")),
        )


@dataclass(frozen=True)
class CertificateFile(Fact):
    """The configured certificate file's own end date (``notAfter``), independent of Graph."""

    kind: ClassVar[str] = "certificate_file"
    not_after: datetime
    thumbprint_sha1: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"not_after": _time(self.not_after), "thumbprint_sha1": self.thumbprint_sha1}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateFile:
        not_after = _parse_time(data.get("not_after"))
        return cls(
            not_after=not_after or datetime(1970, 1, 1, tzinfo=UTC),
            thumbprint_sha1=_str(data.get("thumbprint_sha1")),
        )


@dataclass(frozen=True)
class DeclaredExpiry(Fact):
    """An expiry date the operator declared in the configuration, with where it comes from."""

    kind: ClassVar[str] = "declared_expiry"
    expires: datetime
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"expires": _time(self.expires), "label": self.label}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeclaredExpiry:
        expires = _parse_time(data.get("expires"))
        return cls(
            expires=expires or datetime(1970, 1, 1, tzinfo=UTC), label=str(data.get("label", ""))
        )


# --- user identities -----------------------------------------------------------------------------


@dataclass(frozen=True)
class UserAccount(Fact):
    """A user identity's Entra ID account (``found`` False: no such user in the tenant).

    Fields Graph did not return are None, never a guess.
    """

    kind: ClassVar[str] = "user_account"
    found: bool
    user_principal_name: str = ""
    object_id: str | None = None
    display_name: str = ""
    account_enabled: bool | None = None
    user_type: str | None = None
    last_password_change: datetime | None = None
    password_policies: tuple[str, ...] = ()
    synced_from_on_premises: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "user_principal_name": self.user_principal_name,
            "object_id": self.object_id,
            "display_name": self.display_name,
            "account_enabled": self.account_enabled,
            "user_type": self.user_type,
            "last_password_change": _time(self.last_password_change),
            "password_policies": list(self.password_policies),
            "synced_from_on_premises": self.synced_from_on_premises,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserAccount:
        policies = data.get("password_policies", [])
        return cls(
            found=bool(data.get("found")),
            user_principal_name=str(data.get("user_principal_name", "")),
            object_id=_str(data.get("object_id")),
            display_name=str(data.get("display_name", "")),
            account_enabled=_bool(data.get("account_enabled")),
            user_type=_str(data.get("user_type")),
            last_password_change=_parse_time(data.get("last_password_change")),
            password_policies=tuple(str(p) for p in policies) if isinstance(policies, list) else (),
            synced_from_on_premises=_bool(data.get("synced_from_on_premises")),
        )

    @property
    def domain(self) -> str:
        return self.user_principal_name.rpartition("@")[2].lower()

    @property
    def password_never_expires(self) -> bool:
        return any(p.lower() == "disablepasswordexpiration" for p in self.password_policies)


@dataclass(frozen=True)
class Licence:
    """One licence (SKU) assigned to a user; ``part_number`` None when the SKU list was not read."""

    sku_id: str
    part_number: str | None = None

    @property
    def name(self) -> str:
        return self.part_number or self.sku_id


@dataclass(frozen=True)
class UserLicences(Fact):
    """The licences (SKUs) assigned to a user identity, directly or through groups."""

    kind: ClassVar[str] = "user_licences"
    licences: tuple[Licence, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "licences": [
                {"sku_id": licence.sku_id, "part_number": licence.part_number}
                for licence in sorted(self.licences, key=lambda item: item.sku_id)
            ]
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserLicences:
        return cls(
            licences=tuple(
                Licence(str(item.get("sku_id", "")), _str(item.get("part_number")))
                for item in data.get("licences", [])
                if isinstance(item, Mapping)
            )
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(licence.name for licence in self.licences))


# --- tenant -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainPolicy(Fact):
    """A verified domain's password policy (Graph ``domain``); None values are Graph's null."""

    kind: ClassVar[str] = "domain_policy"
    domain: str
    password_validity_days: int | None = None
    password_notification_days: int | None = None
    is_default: bool = False
    authentication_type: str | None = None  # "Managed" or "Federated"; None: not read

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "password_validity_days": self.password_validity_days,
            "password_notification_days": self.password_notification_days,
            "is_default": self.is_default,
            "authentication_type": self.authentication_type,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DomainPolicy:
        return cls(
            domain=str(data.get("domain", "")),
            password_validity_days=_int(data.get("password_validity_days")),
            password_notification_days=_int(data.get("password_notification_days")),
            is_default=bool(data.get("is_default")),
            authentication_type=_str(data.get("authentication_type")),
        )

    @property
    def federated(self) -> bool:
        return (self.authentication_type or "").lower() == "federated"

    @property
    def passwords_expire(self) -> bool:
        days = self.password_validity_days
        return days is not None and 0 < days < NEVER_EXPIRES_DAYS


@dataclass(frozen=True)
class TenantInfo(Fact):
    """The tenant's organization object: when it was created (``None``: Graph had no value).

    A tenant created before 2021 has a 90-day password validity by default where a domain
    sets none; a newer one has no expiration.
    """

    kind: ClassVar[str] = "organization"
    tenant_id: str
    created: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "created": _time(self.created)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TenantInfo:
        return cls(
            tenant_id=str(data.get("tenant_id", "")), created=_parse_time(data.get("created"))
        )


@dataclass(frozen=True)
class ServicePlan:
    """A service plan of a SKU (``servicePlanName``, ``provisioningStatus``, ``appliesTo``)."""

    name: str
    status: str = "Success"
    applies_to: str = "User"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "applies_to": self.applies_to}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServicePlan:
        return cls(
            name=str(data.get("name", "")),
            status=str(data.get("status", "Success")),
            applies_to=str(data.get("applies_to", "User")),
        )


@dataclass(frozen=True)
class SubscribedSku(Fact):
    """A licence SKU the tenant subscribes to; spare = enabled units minus consumed units.

    ``applies_to`` (``User`` or ``Company``) and ``service_plans`` are None in facts recorded
    before they were read (the spare-licence rule then does not judge the tenant).
    """

    kind: ClassVar[str] = "subscribed_sku"
    sku_id: str
    part_number: str
    enabled: int = 0
    consumed: int = 0
    suspended: int = 0
    warning: int = 0
    capability_status: str = "Enabled"
    applies_to: str | None = None
    service_plans: tuple[ServicePlan, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "sku_id": self.sku_id,
            "part_number": self.part_number,
            "enabled": self.enabled,
            "consumed": self.consumed,
            "suspended": self.suspended,
            "warning": self.warning,
            "capability_status": self.capability_status,
            "applies_to": self.applies_to,
            "service_plans": None
            if self.service_plans is None
            else [plan.to_json() for plan in self.service_plans],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubscribedSku:
        plans = data.get("service_plans")
        return cls(
            sku_id=str(data.get("sku_id", "")),
            part_number=str(data.get("part_number", "")),
            enabled=_int(data.get("enabled")) or 0,
            consumed=_int(data.get("consumed")) or 0,
            suspended=_int(data.get("suspended")) or 0,
            warning=_int(data.get("warning")) or 0,
            capability_status=str(data.get("capability_status", "Enabled")),
            applies_to=_str(data.get("applies_to")),
            service_plans=tuple(
                ServicePlan.from_json(item) for item in plans if isinstance(item, Mapping)
            )
            if isinstance(plans, list)
            else None,
        )

    @property
    def spare(self) -> int:
        return max(0, self.enabled - self.consumed)


# --- Dataverse ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemUser(Fact):
    """An identity's ``systemuser`` row in one environment (``found`` False: not a user there)."""

    kind: ClassVar[str] = "systemuser"
    found: bool
    systemuser_id: str | None = None
    full_name: str = ""
    domain_name: str = ""
    application_id: str | None = None
    access_mode: int | None = None
    is_disabled: bool | None = None
    is_licensed: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "systemuser_id": self.systemuser_id,
            "full_name": self.full_name,
            "domain_name": self.domain_name,
            "application_id": self.application_id,
            "access_mode": self.access_mode,
            "is_disabled": self.is_disabled,
            "is_licensed": self.is_licensed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SystemUser:
        return cls(
            found=bool(data.get("found")),
            systemuser_id=_str(data.get("systemuser_id")),
            full_name=str(data.get("full_name", "")),
            domain_name=str(data.get("domain_name", "")),
            application_id=_str(data.get("application_id")),
            access_mode=_int(data.get("access_mode")),
            is_disabled=_bool(data.get("is_disabled")),
            is_licensed=_bool(data.get("is_licensed")),
        )

    @property
    def is_application_user(self) -> bool:
        return self.found and bool(self.application_id)

    @property
    def is_non_interactive(self) -> bool:
        return (
            self.found
            and not self.application_id
            and self.access_mode == ACCESS_MODE_NON_INTERACTIVE
        )

    @property
    def is_administrative(self) -> bool:
        """Access mode 1 (Global, Power Platform or Dynamics 365 administrators): no licence."""
        return (
            self.found
            and not self.application_id
            and self.access_mode == ACCESS_MODE_ADMINISTRATIVE
        )


@dataclass(frozen=True)
class RoleGrant:
    """A security role an identity holds, directly (``team`` None) or through a team."""

    name: str
    role_id: str
    template_id: str | None = None
    team: str | None = None

    @property
    def is_system_administrator(self) -> bool:
        if self.template_id is not None:
            return self.template_id.lower() == SYSTEM_ADMINISTRATOR_TEMPLATE
        return self.name.lower() == "system administrator"

    @property
    def is_system_customizer(self) -> bool:
        if self.template_id is not None:
            return self.template_id.lower() == SYSTEM_CUSTOMIZER_TEMPLATE
        return self.name.lower() == "system customizer"

    def describe(self) -> str:
        return f"'{self.name}'" + (f" (through team '{self.team}')" if self.team else "")


@dataclass(frozen=True)
class SecurityRoles(Fact):
    """Every security role an identity holds in one environment, including through teams."""

    kind: ClassVar[str] = "security_roles"
    roles: tuple[RoleGrant, ...] = ()

    def to_json(self) -> dict[str, Any]:
        ordered = sorted(self.roles, key=lambda r: (r.name.lower(), r.team or "", r.role_id))
        return {
            "roles": [
                {
                    "name": role.name,
                    "role_id": role.role_id,
                    "template_id": role.template_id,
                    "team": role.team,
                }
                for role in ordered
            ]
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SecurityRoles:
        return cls(
            roles=tuple(
                RoleGrant(
                    name=str(item.get("name", "")),
                    role_id=str(item.get("role_id", "")),
                    template_id=_str(item.get("template_id")),
                    team=_str(item.get("team")),
                )
                for item in data.get("roles", [])
                if isinstance(item, Mapping)
            )
        )


@dataclass(frozen=True)
class NonInteractiveUsers(Fact):
    """How many non-interactive users (access mode 4, not application users) an environment has.

    ``count`` includes disabled ones (``disabled`` of them): whether a disabled user frees its
    slot is not documented, so the monitor counts on the safe side.
    """

    kind: ClassVar[str] = "noninteractive_users"
    count: int
    disabled: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "disabled": self.disabled}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NonInteractiveUsers:
        return cls(count=_int(data.get("count")) or 0, disabled=_int(data.get("disabled")) or 0)


FACT_TYPES: dict[str, type[Fact]] = {
    cls.kind: cls
    for cls in (
        AppCredentials,
        ServicePrincipal,
        CertificateFile,
        DeclaredExpiry,
        UserAccount,
        UserLicences,
        DomainPolicy,
        TenantInfo,
        SubscribedSku,
        SystemUser,
        SecurityRoles,
        NonInteractiveUsers,
    )
}


def fact_from_json(kind: str, data: Mapping[str, Any]) -> Fact:
    """Return the fact of *kind* from its JSON form. Raise KeyError for an unknown kind."""
    return FACT_TYPES[kind].from_json(data)


def fact_to_text(fact: Fact | None) -> str | None:
    """Return the canonical JSON text of *fact* (sorted keys), used to detect changes."""
    if fact is None:
        return None
    return json.dumps(fact.to_json(), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Observation:
    """One fact about one subject, with its source and time; ``fact`` None: not observed.

    Scope: ``tenant`` always; ``identity`` for identity facts (None for tenant and environment
    facts and for the observer's own credential); ``environment`` for Dataverse facts.
    ``subject`` tells facts of one kind and scope apart (a SKU id, a domain, ``observer``).
    ``since`` is when the current value was first observed (filled in by the store; equal to
    ``observed_at`` for a fresh observation).
    """

    kind: str
    tenant: str
    identity: str | None
    environment: str | None
    subject: str
    source: Source
    observed_at: datetime
    fact: Fact | None
    cause: NotObservedCause | None = None
    reason: str | None = None
    since: datetime | None = None

    @property
    def key(self) -> str:
        """The stable key of this fact: ``kind:tenant/identity/environment:subject``."""
        scope = "/".join(part or "-" for part in (self.tenant, self.identity, self.environment))
        return f"{self.kind}:{scope}:{self.subject}"

    @property
    def observed(self) -> bool:
        return self.fact is not None

    @property
    def first_seen(self) -> datetime:
        return self.since or self.observed_at

    @classmethod
    def of(
        cls,
        fact: Fact,
        *,
        tenant: str,
        source: Source,
        observed_at: datetime,
        identity: str | None = None,
        environment: str | None = None,
        subject: str = "",
    ) -> Observation:
        """Return an observation of *fact*."""
        return cls(
            kind=fact.kind,
            tenant=tenant,
            identity=identity,
            environment=environment,
            subject=subject,
            source=source,
            observed_at=observed_at,
            fact=fact,
        )

    @classmethod
    def missing(
        cls,
        kind: str,
        *,
        tenant: str,
        source: Source,
        observed_at: datetime,
        cause: NotObservedCause,
        reason: str,
        identity: str | None = None,
        environment: str | None = None,
        subject: str = "",
    ) -> Observation:
        """Return a "not observed: <reason>" observation of a fact of *kind*."""
        return cls(
            kind=kind,
            tenant=tenant,
            identity=identity,
            environment=environment,
            subject=subject,
            source=source,
            observed_at=observed_at,
            fact=None,
            cause=cause,
            reason=reason,
        )


def stored_fact(kind: str, value: str | None) -> Fact | None:
    """Return the fact a stored JSON text holds (None for no text or a kind this monitor does
    not know)."""
    if value is None or kind not in FACT_TYPES:
        return None
    return fact_from_json(kind, json.loads(value))


def stored_observation(
    *,
    kind: str,
    tenant: str,
    identity: str | None,
    environment: str | None,
    subject: str,
    source: str,
    observed: bool,
    cause: str | None,
    reason: str | None,
    value: str | None,
    since: datetime | None,
    last_observed_at: datetime,
) -> Observation | None:
    """Return the observation a stored fact (a ``posture_fact`` row) holds, or None for a kind
    this monitor does not know (written by a newer monitor). Every reader of stored facts (the
    store, the report) goes through here."""
    if kind not in FACT_TYPES:
        return None
    return Observation(
        kind=kind,
        tenant=tenant,
        identity=identity,
        environment=environment,
        subject=subject,
        source=source if source in SOURCES else "graph",
        observed_at=last_observed_at,
        fact=stored_fact(kind, value) if observed else None,
        cause=cast(NotObservedCause | None, cause),
        reason=reason,
        since=since,
    )


@dataclass(frozen=True)
class PostureChange:
    """A fact changed: first seen (``from_observed`` None), changed value or observability, or
    disappeared (``to_observed`` None)."""

    id: int
    fact_key: str
    kind: str
    tenant: str
    identity: str | None
    environment: str | None
    subject: str
    at: datetime
    source: str
    from_observed: bool | None
    to_observed: bool | None
    from_fact: Fact | None
    to_fact: Fact | None
    to_cause: str | None
