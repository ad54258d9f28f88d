"""Per-identity and per-tenant values derived from the current directory facts (pure).

The same rules the findings use decide what a value is: the credential in use and its successor
(:func:`monitor.findings.posture.credential_in_use`), the predicted password expiry
(:func:`monitor.findings.posture.predict_password_expiry`), the System Administrator and System
Customizer role templates. A value that no stored fact gives is left out (no series), never
guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from monitor.config.model import Config, IdentityConfig
from monitor.findings.posture import (
    NON_INTERACTIVE_LIMIT,
    ObservationIndex,
    credential_in_use,
    predict_password_expiry,
)
from monitor.model.licensing import grants_dataverse
from monitor.model.observations import (
    AppCredentials,
    CertificateFile,
    DeclaredExpiry,
    DomainPolicy,
    NonInteractiveUsers,
    Observation,
    SecurityRoles,
    ServicePrincipal,
    SubscribedSku,
    SystemUser,
    TenantInfo,
    UserAccount,
    UserLicences,
)

# Causes of "not observed" that are no failed read: nothing to read, or not applicable.
NOT_A_READ_FAILURE = frozenset({"no_observer", "elsewhere", "unsupported"})
# Facts a directory read observes (the others come from the configuration).
_READ_SOURCES = frozenset({"graph", "dataverse"})


@dataclass(frozen=True)
class CredentialValues:
    """What the facts say about one identity's credential and account."""

    identity: str
    tenant: str
    kind: str
    expiry: float | None = None  # seconds since the epoch
    expiry_source: str = ""
    successor: bool | None = None  # None: Graph's credential list was not observed
    password_expiry: float | None = None
    account_enabled: bool | None = None  # Entra ID: user account or service principal
    entra_licensed: bool | None = None  # Entra ID: a licence that grants Dataverse access
    dataverse_enabled: dict[str, bool] = field(default_factory=dict)  # by environment
    licensed: dict[str, bool] = field(default_factory=dict)  # by environment
    over_privileged: dict[str, bool] = field(default_factory=dict)  # by environment


@dataclass(frozen=True)
class TenantValues:
    """What the facts say about one tenant's directory reads and licences."""

    tenant: str
    read_ok: bool | None  # None: nothing to read (no observer)
    last_read: float | None
    spare: dict[str, int] = field(default_factory=dict)  # by SKU part number


@dataclass(frozen=True)
class PostureValues:
    identities: list[CredentialValues]
    tenants: list[TenantValues]
    non_interactive: list[tuple[str, str, int]]  # (tenant, environment, count)
    non_interactive_limit: int = NON_INTERACTIVE_LIMIT


Lookup = Callable[..., object]  # (kind, tenant, identity, environment, subject) -> fact


def _facts_of(index: ObservationIndex) -> Lookup:
    """Return a lookup of the fact (not the observation) of one kind and scope, or None."""

    def one(
        kind: str,
        tenant: str,
        identity: str | None = None,
        environment: str | None = None,
        subject: str = "",
    ) -> object:
        found = index.one(kind, tenant, identity, environment, subject)
        return None if found is None else found.fact

    return one


def posture_values(
    observations: Iterable[Observation], config: Config, now: datetime
) -> PostureValues:
    """Return the credential, account and tenant values of every configured identity and
    tenant from the current *observations* (stored facts merged with the configuration's)."""
    index = ObservationIndex(observations)
    one = _facts_of(index)
    by_tenant: dict[str, list[Observation]] = {}
    skus: dict[str, dict[str, SubscribedSku]] = {}  # by tenant, then SKU id
    for observation in index.all:
        by_tenant.setdefault(observation.tenant, []).append(observation)
        if isinstance(observation.fact, SubscribedSku):
            skus.setdefault(observation.tenant, {})[observation.fact.sku_id] = observation.fact
    identities = [
        _identity_values(identity, one, now, skus.get(identity.tenant, {}))
        for identity in config.identities.values()
        if identity.tenant in config.tenants
    ]
    tenants: list[TenantValues] = []
    non_interactive: list[tuple[str, str, int]] = []
    for name in config.tenants:
        facts = by_tenant.get(name, [])
        failing = [o for o in facts if o.cause is not None and o.cause not in NOT_A_READ_FAILURE]
        readable = [o for o in facts if o.cause not in NOT_A_READ_FAILURE]
        observed = [
            o.observed_at.timestamp() for o in facts if o.observed and o.source in _READ_SOURCES
        ]
        spare = {sku.part_number or sku.sku_id: sku.spare for sku in skus.get(name, {}).values()}
        tenants.append(
            TenantValues(
                tenant=name,
                read_ok=(not failing) if readable else None,
                last_read=max(observed) if observed else None,
                spare=spare,
            )
        )
        for environment in config.environments.values():
            if environment.tenant != name:
                continue
            count = one("noninteractive_users", name, None, environment.name)
            if isinstance(count, NonInteractiveUsers):
                non_interactive.append((name, environment.name, count.count))
    return PostureValues(identities, tenants, non_interactive)


def _identity_values(
    identity: IdentityConfig, one: Lookup, now: datetime, skus: dict[str, SubscribedSku]
) -> CredentialValues:
    tenant, name = identity.tenant, identity.name
    kind = identity.credential_type
    dates: list[tuple[float, str]] = []
    successor: bool | None = None
    account_enabled: bool | None = None
    entra_licensed: bool | None = None
    password_expiry: float | None = None
    if identity.kind == "application":
        credentials = one("app_credentials", tenant, name)
        if isinstance(credentials, AppCredentials):
            verdict = credential_in_use(credentials, now)
            if verdict.current is not None:
                successor = verdict.successor is not None
                if verdict.current.end is not None:
                    dates.append((verdict.current.end.timestamp(), "graph"))
        principal = one("service_principal", tenant, name)
        if isinstance(principal, ServicePrincipal) and principal.found:
            account_enabled = principal.account_enabled
        certificate = one("certificate_file", tenant, name)
        if isinstance(certificate, CertificateFile):
            dates.append((certificate.not_after.timestamp(), "certificate file"))
    else:
        account = one("user_account", tenant, name)
        if isinstance(account, UserAccount) and account.found:
            account_enabled = account.account_enabled
            domain = one("domain_policy", tenant, None, None, account.domain) or one(
                "domain_policy", tenant
            )
            organization = one("organization", tenant)
            prediction = predict_password_expiry(
                account,
                domain if isinstance(domain, DomainPolicy) else None,
                organization if isinstance(organization, TenantInfo) else None,
            )
            if prediction.expires is not None:
                password_expiry = prediction.expires.timestamp()
            licences = one("user_licences", tenant, name)
            if isinstance(licences, UserLicences):
                entra_licensed = _licensed(licences, skus)
    declared = one("declared_expiry", tenant, name)
    if isinstance(declared, DeclaredExpiry):
        dates.append((declared.expires.timestamp(), "configuration"))
    expiry, source = min(dates) if dates else (None, "")
    dataverse_enabled: dict[str, bool] = {}
    licensed: dict[str, bool] = {}
    over_privileged: dict[str, bool] = {}
    for environment in identity.environments:
        user = one("systemuser", tenant, name, environment)
        if isinstance(user, SystemUser) and user.found:
            if user.is_disabled is not None:
                dataverse_enabled[environment] = not user.is_disabled
            if user.is_licensed is not None:
                licensed[environment] = user.is_licensed
        roles = one("security_roles", tenant, name, environment)
        if isinstance(roles, SecurityRoles):
            over_privileged[environment] = any(
                role.is_system_administrator or role.is_system_customizer for role in roles.roles
            )
    return CredentialValues(
        identity=name,
        tenant=tenant,
        kind=kind,
        expiry=expiry,
        expiry_source=source,
        successor=successor,
        password_expiry=password_expiry,
        account_enabled=account_enabled,
        entra_licensed=entra_licensed,
        dataverse_enabled=dataverse_enabled,
        licensed=licensed,
        over_privileged=over_privileged,
    )


def _licensed(licences: UserLicences, skus: dict[str, SubscribedSku]) -> bool | None:
    """Whether one of the user's licences grants Dataverse access (the tenant's SKU says what
    each licence carries); None when a licence's SKU or its plans were not read and none of
    the others grants it."""
    unknown = False
    for licence in licences.licences:
        sku = skus.get(licence.sku_id)
        plans = (
            None
            if sku is None or sku.service_plans is None
            else [(plan.name, plan.status) for plan in sku.service_plans]
        )
        verdict = None if sku is None else grants_dataverse(sku.capability_status, plans)
        if verdict:
            return True
        unknown = unknown or verdict is None
    return None if unknown else False
