"""Posture rules: directory observations + ``now`` -> findings, deadlines and classification.

Pure functions (no I/O, no clock of their own). :func:`evaluate_posture` takes every current
observation of the configured tenants (from a directory pass, or from the store) and returns a
:class:`Posture`: the findings, and per identity its classification, every known deadline
(nearest first) and what could not be observed. The rules, the credential in use, the password
expiry prediction and what each finding means: ``docs/posture.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from monitor.config.model import Config, DirectoryConfig, IdentityConfig
from monitor.model.clock import in_days_words
from monitor.model.findings import Finding, FindingKind, Level
from monitor.model.licensing import Seat, seat_use
from monitor.model.observations import (
    NEVER_EXPIRES_DAYS,
    TRANSIENT_CAUSES,
    AppCredentials,
    CertificateFile,
    DeclaredExpiry,
    DiscoveredIdentityFact,
    DomainPolicy,
    NonInteractiveUsers,
    Observation,
    RegisteredCredential,
    SecurityRoles,
    ServicePrincipal,
    SubscribedSku,
    SystemUser,
    TenantInfo,
    UserAccount,
    UserLicences,
)

NON_INTERACTIVE_LIMIT = 7  # per environment ("Create users", docs/platform.md)
# Tenants created before this have a 90-day password validity by default (docs/platform.md).
DEFAULT_EXPIRY_CUTOFF = datetime(2021, 1, 1, tzinfo=UTC)
LEGACY_DEFAULT_VALIDITY_DAYS = 90
ROPC_MIGRATION = "https://aka.ms/msal-ropc-migration"
# A new or vanished integration identity is noted this long ([discovery] watch = "posture").
NOTE_WINDOW = timedelta(days=7)
OBSERVER_SUBJECT = "observer"
_SLUG = re.compile(r"[^a-z0-9]+")

APPLICATION_USER = "application user"
NON_INTERACTIVE_USER = "non-interactive user"
ADMINISTRATIVE_USER = "administrative user (access mode 1: needs no licence)"
INTERACTIVE_USER = "interactive user"
NOT_CLASSIFIED = "not classified (Dataverse not observed)"
NOT_A_USER = "not a user of its environments"


@dataclass(frozen=True)
class Thresholds:
    """When an expiry becomes a warning / critical, and the non-interactive user limit."""

    warning_days: float = 30.0
    critical_days: float = 7.0
    non_interactive_limit: int = NON_INTERACTIVE_LIMIT

    @classmethod
    def of(cls, directory: DirectoryConfig) -> Thresholds:
        return cls(
            warning_days=directory.expiry_warning_days,
            critical_days=directory.expiry_critical_days,
        )


@dataclass(frozen=True)
class Deadline:
    """A date when something of an identity stops working, and where that date comes from."""

    at: datetime
    what: str  # "client secret 'prod-2025' (in use) expires"
    source: str  # "graph", "certificate file", "configuration (vendor portal)"
    kind: FindingKind


@dataclass(frozen=True)
class IdentityPosture:
    """What the directory reads say about one identity."""

    identity: str
    tenant: str
    classification: str
    deadlines: tuple[Deadline, ...] = ()  # nearest first
    not_observed: tuple[str, ...] = ()  # "<fact>: <why>"
    licences: tuple[str, ...] | None = None  # None: not observed

    @property
    def nearest(self) -> Deadline | None:
        return self.deadlines[0] if self.deadlines else None


@dataclass(frozen=True)
class SkuPosture:
    part_number: str
    enabled: int
    consumed: int
    spare: int
    capability_status: str
    seat: str = ""  # what a seat is good for: "Dataverse", or why not


@dataclass(frozen=True)
class Posture:
    """Everything :func:`evaluate_posture` derived."""

    findings: tuple[Finding, ...]
    identities: Mapping[str, IdentityPosture]
    skus: Mapping[str, tuple[SkuPosture, ...]] = field(default_factory=dict)  # by tenant
    non_interactive: Mapping[str, int] = field(default_factory=dict)  # by environment


# --- small helpers -----------------------------------------------------------------------------


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _by(at: datetime, now: datetime) -> str:
    """Return "before 2026-12-05", or "now" for a date that has passed."""
    return f"before {_date(at)}" if at > now else "now"


def expiry_level(at: datetime, now: datetime, thresholds: Thresholds) -> Level | None:
    """Return critical when *at* has passed or is within the critical window, warning within the
    warning window, else None."""
    left = at - now
    if left <= timedelta(days=thresholds.critical_days):
        return Level.CRITICAL
    if left <= timedelta(days=thresholds.warning_days):
        return Level.WARNING
    return None


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")[:60]


def _details(**values: object) -> Mapping[str, object]:
    return MappingProxyType({key: value for key, value in values.items() if value is not None})


class ObservationIndex:
    """Observations by kind and scope (the posture rules' and the metrics' way to find a fact)."""

    def __init__(self, observations: Iterable[Observation]) -> None:
        self.all = list(observations)
        self._by: dict[tuple[str, str, str | None, str | None, str], Observation] = {}
        self._by_kind: dict[tuple[str, str], list[Observation]] = {}
        self._by_identity: dict[tuple[str, str | None], list[Observation]] = {}
        for observation in self.all:
            self._by_kind.setdefault((observation.kind, observation.tenant), []).append(observation)
            self._by_identity.setdefault((observation.tenant, observation.identity), []).append(
                observation
            )
            self._by[
                (
                    observation.kind,
                    observation.tenant,
                    observation.identity,
                    observation.environment,
                    observation.subject,
                )
            ] = observation

    def one(
        self,
        kind: str,
        tenant: str,
        identity: str | None = None,
        environment: str | None = None,
        subject: str = "",
    ) -> Observation | None:
        return self._by.get((kind, tenant, identity, environment, subject))

    def many(self, kind: str, tenant: str) -> list[Observation]:
        return list(self._by_kind.get((kind, tenant), ()))

    def of_identity(self, tenant: str, identity: str) -> list[Observation]:
        return list(self._by_identity.get((tenant, identity), ()))


# --- password expiry prediction ----------------------------------------------------------------


@dataclass(frozen=True)
class PasswordExpiry:
    """When a user's password expires: ``expires`` set, or ``never``, or not predicted (``why``).

    ``inferred``: the validity is the default of a tenant created before 2021 (the domain sets
    none). ``on_premises``: the expiry is decided by on-premises AD (``why`` says so).
    """

    expires: datetime | None = None
    never: bool = False
    why: str = ""  # why it never expires, or why it could not be predicted
    validity_days: int | None = None
    domain: str = ""
    inferred: bool = False
    on_premises: bool = False


def predict_password_expiry(
    account: UserAccount,
    domain: DomainPolicy | None,
    organization: TenantInfo | None = None,
) -> PasswordExpiry:
    """Given a user account, its domain's policy and the tenant's organization (None: not
    observed), return when the password expires.

    A user synchronised from on-premises AD into a federated domain: decided on-premises
    (AADSTS50144 when it expires). Otherwise (cloud users, and password hash synchronisation in a
    managed domain) the cloud policy: ``DisablePasswordExpiration`` on the user wins; a domain
    validity of 2147483647 means never; a null one is the tenant's default, 90 days for a tenant
    created before 2021 and no expiration for a newer one; else last change + validity days
    (docs/platform.md, "Passwords").
    """
    if account.synced_from_on_premises:
        if domain is None:
            return PasswordExpiry(
                why=f"the account is synchronised from on-premises AD and the policy of domain "
                f"{account.domain} was not read"
            )
        if domain.federated:
            return PasswordExpiry(
                on_premises=True,
                why=f"governed by on-premises AD: the account is synchronised into federated "
                f"domain {domain.domain}, whose passwords are checked on-premises (an expired one "
                "fails with AADSTS50144); declare its date with credential_expires",
                domain=domain.domain,
            )
    if account.password_never_expires:
        note = " (set by password hash synchronisation)" if account.synced_from_on_premises else ""
        return PasswordExpiry(never=True, why=f"the account has DisablePasswordExpiration{note}")
    if domain is None:
        return PasswordExpiry(why=f"the password policy of domain {account.domain} was not read")
    days = domain.password_validity_days
    inferred = False
    if days is None:
        created = organization.created if organization is not None else None
        if created is None:
            return PasswordExpiry(
                why=f"domain {domain.domain} sets no password validity, and the tenant's "
                "creation date, which decides the default, was not read",
                domain=domain.domain,
            )
        if created >= DEFAULT_EXPIRY_CUTOFF:
            return PasswordExpiry(
                never=True,
                why=f"domain {domain.domain} sets no password validity and the tenant was "
                f"created on {_date(created)}: no expiration by default",
                domain=domain.domain,
            )
        days, inferred = LEGACY_DEFAULT_VALIDITY_DAYS, True
    if days <= 0 or days >= NEVER_EXPIRES_DAYS:
        return PasswordExpiry(
            never=True,
            why=f"domain {domain.domain} sets no expiry (passwordValidityPeriodInDays {days})",
            domain=domain.domain,
        )
    if account.last_password_change is None:
        return PasswordExpiry(why="Graph did not return lastPasswordChangeDateTime")
    return PasswordExpiry(
        expires=account.last_password_change + timedelta(days=days),
        validity_days=days,
        domain=domain.domain,
        inferred=inferred,
    )


# --- the credential in use ---------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialVerdict:
    """Which registered credential is taken to be in use, and its successor (if any)."""

    current: RegisteredCredential | None
    successor: RegisteredCredential | None
    matched: bool  # False: no registered credential matched the configured one
    candidates: int  # how many registered credentials matched (several: shared hint)


def credential_in_use(credentials: AppCredentials, now: datetime) -> CredentialVerdict:
    """Return the credential the integration uses and whether a successor is registered.

    Among the matching credentials the one ending first that has not yet expired is assumed
    (several secrets can share a hint); when nothing matched, every credential of the configured
    type is a candidate. A successor is another credential of the same type, not expired, valid
    before the current one ends and ending later (or never).
    """
    same_type = [c for c in credentials.credentials if c.type == credentials.configured]
    matching = list(credentials.in_use)
    matched = bool(matching)
    candidates = matching if matched else same_type
    if not candidates:
        return CredentialVerdict(None, None, matched, 0)
    live = [c for c in candidates if c.end is None or c.end > now] or candidates
    far = datetime.max.replace(tzinfo=now.tzinfo)
    current = min(live, key=lambda c: (c.end or far, c.key_id))
    current_end = current.end or far
    successors = [
        c
        for c in same_type
        if c.key_id != current.key_id
        and (c.end is None or (c.end > current_end and c.end > now))
        and (c.start is None or c.start <= current_end)
    ]
    successor = max(successors, key=lambda c: (c.end or far, c.key_id)) if successors else None
    return CredentialVerdict(current, successor, matched, len(matching))


# --- rules ---------------------------------------------------------------------------------------


class _Rules:
    def __init__(
        self, index: ObservationIndex, config: Config, now: datetime, thresholds: Thresholds
    ):
        self.index = index
        self.config = config
        self.now = now
        self.thresholds = thresholds
        self.findings: list[Finding] = []
        self.deadlines: dict[str, list[Deadline]] = {}
        self.not_observed: dict[str, list[str]] = {}
        self.classifications: dict[str, str] = {}
        self.licences: dict[str, tuple[str, ...] | None] = {}
        self.recommends_non_interactive: dict[str, list[str]] = {}  # tenant -> identities

    # -- plumbing -------------------------------------------------------------------------------

    def add(
        self,
        kind: FindingKind,
        level: Level,
        observation: Observation,
        *,
        subject: str,
        summary: str,
        remedy: str,
        subject_id: str,
        deadline: datetime | None = None,
        identity: str | None = None,
        environment: str | None = None,
        source: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        # "" means "not scoped to one" (a tenant-wide finding from an identity's observation).
        identity = (identity if identity is not None else observation.identity) or None
        environment = (environment if environment is not None else observation.environment) or None
        self.findings.append(
            Finding.create(
                kind,
                level,
                tenant=observation.tenant,
                identity=identity,
                environment=environment,
                subject_id=subject_id,
                subject=subject,
                summary=summary,
                remedy=remedy,
                observed_at=observation.observed_at,
                source=source or observation.source,
                deadline=deadline,
                details=_details(**(details or {})),
            )
        )

    def broken(
        self,
        kind: FindingKind,
        observation: Observation,
        *,
        subject: str,
        summary: str,
        remedy: str,
        subject_id: str,
    ) -> None:
        """Add a critical finding of something that has not worked since *observation* first
        showed it (the deadline: it broke then)."""
        self.add(
            kind,
            Level.CRITICAL,
            observation,
            subject=subject,
            summary=summary,
            remedy=remedy,
            subject_id=subject_id,
            deadline=observation.first_seen,
        )

    def deadline(self, identity: str, deadline: Deadline) -> None:
        self.deadlines.setdefault(identity, []).append(deadline)

    def missing(self, identity: str, what: str, observation: Observation) -> None:
        self.not_observed.setdefault(identity, []).append(f"{what}: {observation.reason}")

    def observed(
        self, identity: IdentityConfig, kind: str, what: str, environment: str | None = None
    ) -> Observation | None:
        """Return the identity's observation of *kind* (in *environment*) if it holds a fact;
        note one that could not be observed as *what*, and return None for it. A fact whose
        latest reads failed is returned with its last known value."""
        observation = self.index.one(kind, identity.tenant, identity.name, environment)
        if observation is not None and observation.fact is None:
            self.missing(identity.name, what, observation)
            return None
        return observation

    # -- expiries -------------------------------------------------------------------------------

    def expiry(
        self,
        observation: Observation,
        *,
        identity: str | None,
        subject: str,
        subject_id: str,
        at: datetime,
        what: str,
        remedy: str,
        source: str,
        kind: FindingKind = FindingKind.CREDENTIAL_EXPIRING,
        advice_level: Level | None = None,
        extra: str = "",
        details: Mapping[str, object] | None = None,
    ) -> None:
        """Record the deadline of *what* (a noun phrase) and, inside the windows, a finding."""
        if identity is not None:
            self.deadline(identity, Deadline(at, what, source, kind))
        level = expiry_level(at, self.now, self.thresholds) or advice_level
        if level is None:
            return
        verb = "expired on" if at <= self.now else "expires on"
        self.add(
            kind,
            level,
            observation,
            subject=subject,
            summary=f"{what} {verb} {_date(at)} ({in_days_words(at, self.now)}){extra}",
            remedy=remedy,
            subject_id=subject_id,
            deadline=at,
            identity=identity,
            source=source,
            details=details,
        )

    def app_credentials(self, identity: IdentityConfig | None, observation: Observation) -> None:
        fact = observation.fact
        assert isinstance(fact, AppCredentials)
        verdict = credential_in_use(fact, self.now)
        name = identity.name if identity is not None else None
        owner = (
            "the integration"
            if identity is not None
            else f"the monitor's observer (tenants.{observation.tenant}.observer)"
        )
        noun = "client secret" if fact.configured == "client_secret" else "certificate"
        if not verdict.matched and not (identity is not None and identity.discovered):
            registered = sum(1 for c in fact.credentials if c.type == fact.configured)
            self.add(
                FindingKind.CREDENTIAL_EXPIRING,
                Level.WARNING,
                observation,
                subject=f"the configured {noun}",
                summary=(
                    f"none of the {registered} {noun}s registered on app "
                    f"'{fact.display_name or fact.client_id}' is the configured one"
                    if registered
                    else f"app '{fact.display_name or fact.client_id}' has no {noun} registered"
                ),
                remedy=f"check that {owner} uses a {noun} of this app registration (a deleted or "
                f"rotated {noun} fails sign-in); pin it with credential_key_id if hints collide",
                subject_id="unmatched",
                identity=name,
            )
        current = verdict.current
        if current is None or current.end is None:
            return
        ambiguous = verdict.candidates > 1
        assumed = (
            " (the first to expire: which one the integration uses is unknown)"
            if not verdict.matched and identity is not None and identity.discovered
            else " (assumed: the configured one matched none)"
            if not verdict.matched
            else f" (assumed: {verdict.candidates} share its hint)"
            if ambiguous
            else ""
        )
        prefix = "the monitor's observer " if identity is None else ""
        in_use = "" if identity is not None and identity.discovered else " (in use)"
        what = f"{prefix}{current.describe()}{in_use}{assumed}"
        by = _by(current.end, self.now)
        extra = "; no successor is registered"
        if verdict.successor is not None:
            successor = verdict.successor
            ends = (
                f"ends {_date(successor.end)}" if successor.end is not None else "does not expire"
            )
            extra = f"; successor {successor.describe()} is registered ({ends})"
            remedy = (
                f"switch {owner} to {successor.describe()} {by} (put its value in the "
                f"integration's and the monitor's configuration), then delete the old one"
            )
            subject_id = f"{current.key_id}:successor"
        elif fact.configured == "client_secret":
            remedy = (
                f"add a new client secret to app '{fact.display_name or fact.client_id}', put it "
                f"into {owner} and the monitor's configuration {by}, then delete the "
                "old one; no successor is registered yet"
            )
            subject_id = current.key_id
        else:
            remedy = (
                f"upload a renewed certificate to app '{fact.display_name or fact.client_id}', "
                f"deploy it to {owner} and the monitor {by}, then remove the old one; "
                "no successor is registered yet"
            )
            subject_id = current.key_id
        self.expiry(
            observation,
            identity=name,
            subject=current.describe(),
            subject_id=subject_id,
            at=current.end,
            what=what,
            remedy=remedy,
            source="graph",
            extra=extra,
            details={
                "key_id": current.key_id,
                "successor_key_id": verdict.successor.key_id if verdict.successor else None,
                "matched_by": fact.matched_by,
            },
        )

    def certificate_file(self, identity: str | None, observation: Observation) -> None:
        fact = observation.fact
        assert isinstance(fact, CertificateFile)
        thumb = (fact.thumbprint_sha1 or "")[:8]
        who = "the monitor's observer certificate" if identity is None else "certificate"
        self.expiry(
            observation,
            identity=identity,
            subject=f"{who} file (thumbprint {thumb}…)",
            subject_id=f"file:{fact.thumbprint_sha1 or 'unknown'}",
            at=fact.not_after,
            what=f"{who} file (thumbprint {thumb}…)",
            remedy="renew the certificate, upload the new one to the app registration and "
            f"replace the configured file {_by(fact.not_after, self.now)}",
            source="certificate file",
        )

    def declared(self, identity: str, observation: Observation) -> None:
        fact = observation.fact
        assert isinstance(fact, DeclaredExpiry)
        label = f"configuration ({fact.label})" if fact.label else "configuration"
        self.expiry(
            observation,
            identity=identity,
            subject="the declared credential expiry",
            subject_id="declared",
            at=fact.expires,
            what=f"the credential (declared in the {label})",
            remedy="renew the credential with whoever owns the app registration "
            f"{_by(fact.expires, self.now)}, then update credential_expires",
            source=label,
        )

    # -- identities -----------------------------------------------------------------------------

    def identity(self, identity: IdentityConfig) -> None:
        tenant = identity.tenant
        index = self.index
        name = identity.name
        seen = index.of_identity(tenant, name)
        if not any(o.source in ("graph", "dataverse") for o in seen):
            self.not_observed.setdefault(name, []).append(
                f"directory: no directory read of tenant {tenant} yet"
            )
        for stale in (o for o in seen if o.observed and o.failing):
            self.not_observed.setdefault(name, []).append(
                f"{stale.kind.replace('_', ' ')}: as read on {_date(stale.observed_at)}; "
                f"reading it fails since {_date(stale.failing_since or self.now)}: {stale.reason}"
            )
        for observation in (
            index.one("certificate_file", tenant, name),
            index.one("declared_expiry", tenant, name),
        ):
            if observation is not None and observation.fact is not None:
                if isinstance(observation.fact, CertificateFile):
                    self.certificate_file(name, observation)
                else:
                    self.declared(name, observation)
        declared = index.one("declared_expiry", tenant, name)
        if identity.kind == "application":
            self.application(identity, declared is not None and declared.observed)
        else:
            self.user(identity)
        self.dataverse(identity)
        self.classifications[name] = self.classify(identity)

    def application(self, identity: IdentityConfig, declared: bool) -> None:
        tenant, name = identity.tenant, identity.name
        principal = self.index.one("service_principal", tenant, name)
        credentials = self.index.one("app_credentials", tenant, name)
        if principal is not None:
            if principal.fact is None:
                self.missing(name, "service principal", principal)
            else:
                self.service_principal(name, principal, credentials)
        if credentials is not None:
            if credentials.fact is None:
                if not (declared and credentials.cause == "elsewhere"):
                    self.missing(name, "credential end dates", credentials)
            else:
                self.app_credentials(identity, credentials)

    def service_principal(
        self, name: str, observation: Observation, credentials: Observation | None
    ) -> None:
        fact = observation.fact
        assert isinstance(fact, ServicePrincipal)
        if not fact.found:
            registered_here = credentials is not None and credentials.observed
            elsewhere = credentials is not None and credentials.cause == "elsewhere"
            if registered_here:
                what = (
                    "its app registration is in the tenant, but the enterprise application "
                    "(service principal) was deleted: every sign-in fails (AADSTS7000229)"
                )
            elif elsewhere:
                what = (
                    "the app is registered in another tenant and was never consented to here "
                    "(or its enterprise application was deleted): every sign-in fails "
                    "(AADSTS700016)"
                )
            else:
                what = (
                    "every sign-in fails (AADSTS7000229 when the registration is in this "
                    "tenant, 700016 when it is not)"
                )
            self.broken(
                FindingKind.ACCOUNT_DISABLED,
                observation,
                subject="service principal",
                summary=f"the app has no service principal in tenant {observation.tenant}: {what}",
                remedy="re-create the enterprise application (an admin consents to the app in "
                "this tenant, or `az ad sp create --id <client id>`), or correct client_id",
                subject_id="service-principal",
            )
        elif fact.account_enabled is False:
            self.broken(
                FindingKind.ACCOUNT_DISABLED,
                observation,
                subject=f"service principal '{fact.display_name}'",
                summary="the app's service principal is disabled: every sign-in fails "
                "(AADSTS7000112)",
                remedy="enable the enterprise application (Properties › Enabled for users to "
                "sign in = Yes) if the integration is still needed",
                subject_id="service-principal",
            )

    def user(self, identity: IdentityConfig) -> None:
        tenant, name = identity.tenant, identity.name
        licences_observation = self.index.one("user_licences", tenant, name)
        if licences_observation is not None:
            if isinstance(licences_observation.fact, UserLicences):
                self.licences[name] = licences_observation.fact.names
            elif licences_observation.cause != "not_read":
                self.missing(name, "licences", licences_observation)
        account_observation = self.observed(identity, "user_account", "account")
        if account_observation is None:
            return
        account = account_observation.fact
        assert isinstance(account, UserAccount)
        if not account.found:
            self.broken(
                FindingKind.ACCOUNT_DISABLED,
                account_observation,
                subject=f"user {identity.username}",
                summary=f"no user {identity.username} in tenant {tenant} (deleted or renamed): "
                "sign-in fails (AADSTS50034)",
                remedy="restore the deleted user, or correct username (and move the "
                "integration to an application user)",
                subject_id="account",
            )
            return
        if account.account_enabled is False:
            self.broken(
                FindingKind.ACCOUNT_DISABLED,
                account_observation,
                subject=f"user {account.user_principal_name}",
                summary=f"the account {account.user_principal_name} is disabled in Entra ID: "
                "every sign-in fails (AADSTS50057)",
                remedy="re-enable the account if the integration still needs it; if its owner "
                "left, move the integration to an application user",
                subject_id="account",
            )
        self.password(identity, account, account_observation)
        if licences_observation is not None and isinstance(licences_observation.fact, UserLicences):
            self.sku_status(identity, licences_observation.fact, licences_observation)

    def password(
        self, identity: IdentityConfig, account: UserAccount, observation: Observation
    ) -> None:
        name = identity.name
        # The domains were read (one fact per domain) or not (one "not observed" fact).
        domain_observation = self.index.one(
            "domain_policy", identity.tenant, subject=account.domain
        ) or self.index.one("domain_policy", identity.tenant)
        domain = (
            domain_observation.fact
            if domain_observation is not None and isinstance(domain_observation.fact, DomainPolicy)
            else None
        )
        organization = self.index.one("organization", identity.tenant)
        prediction = predict_password_expiry(
            account,
            domain,
            organization.fact
            if organization is not None and isinstance(organization.fact, TenantInfo)
            else None,
        )
        changed = account.last_password_change
        if prediction.expires is None or changed is None:
            declared = self.index.one("declared_expiry", identity.tenant, name)
            if prediction.on_premises and declared is not None and declared.observed:
                return  # the operator declared the date on-premises AD sets
            if not prediction.never:
                reason = prediction.why
                if domain is None and domain_observation is not None and domain_observation.reason:
                    reason = domain_observation.reason
                elif "creation date" in reason and organization is not None and organization.reason:
                    reason = f"{reason} ({organization.reason})"
                self.not_observed.setdefault(name, []).append(f"password expiry: {reason}")
            return
        policy = (
            f"{prediction.validity_days}-day default of tenants created before 2021, inferred: "
            f"domain {prediction.domain} sets none"
            if prediction.inferred
            else f"{prediction.validity_days}-day policy of {prediction.domain}"
        )
        self.expiry(
            observation,
            identity=name,
            subject=f"password of {account.user_principal_name}",
            subject_id="password",
            at=prediction.expires,
            what=f"the password (changed {_date(changed)}, {policy})",
            remedy=f"change the password (and the integration's and the monitor's copy) "
            f"{_by(prediction.expires, self.now)}; to stop this recurring, set "
            "DisablePasswordExpiration "
            "on this service account or move the integration to an application user",
            source="graph (inferred default)" if prediction.inferred else "graph",
            kind=FindingKind.PASSWORD_EXPIRING,
            advice_level=Level.INFO,
            details={"validity_days": prediction.validity_days, "inferred": prediction.inferred},
        )

    def sku_status(
        self, identity: IdentityConfig, licences: UserLicences, observation: Observation
    ) -> None:
        skus = {
            o.fact.sku_id: o
            for o in self.index.many("subscribed_sku", identity.tenant)
            if isinstance(o.fact, SubscribedSku)
        }
        for licence in licences.licences:
            sku_observation = skus.get(licence.sku_id)
            if sku_observation is None:
                continue
            sku = sku_observation.fact
            assert isinstance(sku, SubscribedSku)
            status = sku.capability_status
            if status == "Enabled":
                continue
            level = Level.WARNING if status == "Warning" else Level.CRITICAL
            meaning = (
                "has expired and is in its grace period"
                if status == "Warning"
                else f"is {status.lower()}: its licences no longer work"
            )
            self.add(
                FindingKind.LICENCE,
                level,
                sku_observation,
                subject=f"licence {sku.part_number}",
                summary=f"the subscription of {sku.part_number}, licensing this identity, "
                f"{meaning}",
                remedy="renew the subscription in the Microsoft 365 admin center (Billing), or "
                "move the integration to an application user, which needs no licence",
                subject_id=f"sku:{sku.sku_id}",
                identity=identity.name,
                deadline=sku_observation.first_seen,
            )

    def dataverse(self, identity: IdentityConfig) -> None:
        for environment in identity.environments:
            observation = self.observed(
                identity, "systemuser", f"{environment} systemuser", environment
            )
            if observation is None:
                continue
            user = observation.fact
            assert isinstance(user, SystemUser)
            if not user.found:
                how = (
                    "add the app as an application user of "
                    f"{environment} (Power Platform admin center › Settings › Users › App users) "
                    "with its security role"
                    if identity.kind == "application"
                    else f"add the user to {environment} (and its security group) with a role"
                )
                self.broken(
                    FindingKind.NOT_IN_ENVIRONMENT,
                    observation,
                    subject=f"systemuser in {environment}",
                    summary=f"not a user of environment {environment}: Dataverse refuses every "
                    "call (403 0x80072560)",
                    remedy=how,
                    subject_id="membership",
                )
                continue
            if user.is_disabled:
                self.broken(
                    FindingKind.ACCOUNT_DISABLED,
                    observation,
                    subject=f"systemuser '{user.full_name}' in {environment}",
                    summary=f"disabled in environment {environment}: Dataverse refuses every call",
                    remedy=f"enable the user in {environment}; Dataverse disables users who lose "
                    "their licence, leave the environment's security group or are disabled in "
                    "Entra ID",
                    subject_id="systemuser",
                )
            self.unlicensed(identity, environment, user, observation)
            roles = self.observed(
                identity, "security_roles", f"{environment} security roles", environment
            )
            if roles is None:
                continue
            assert isinstance(roles.fact, SecurityRoles)
            if not roles.fact.roles and not user.is_disabled:
                self.broken(
                    FindingKind.SECURITY_ROLE,
                    roles,
                    subject=f"security roles in {environment}",
                    summary=f"holds no security role in {environment}, directly or through a "
                    "team: it signs in, and Dataverse refuses everything it asks (0x80042F09)",
                    remedy="assign a least-privilege security role (only the tables the "
                    f"integration uses) to the identity's user in {environment}, directly or "
                    "through a team",
                    subject_id="no-role",
                )
            for grant in roles.fact.roles:
                if grant.is_system_administrator or grant.is_system_customizer:
                    role = (
                        "System Administrator"
                        if grant.is_system_administrator
                        else "System Customizer"
                    )
                    self.add(
                        FindingKind.OVER_PRIVILEGED,
                        Level.WARNING,
                        roles,
                        subject=f"role {grant.describe()} in {environment}",
                        summary=f"holds the {role} role in {environment}"
                        + (f" through team '{grant.team}'" if grant.team else "")
                        + ": a leaked credential could change or delete anything there",
                        remedy=f"grant a least-privilege custom role with only the tables the "
                        f"integration uses, then remove {role}"
                        + (
                            f" from team '{grant.team}' (or the identity from it)"
                            if grant.team
                            else ""
                        ),
                        subject_id=f"{_slug(role)}:{grant.team or 'direct'}",
                        details={"role": role, "team": grant.team},
                    )

    def unlicensed(
        self,
        identity: IdentityConfig,
        environment: str,
        user: SystemUser,
        observation: Observation,
    ) -> None:
        if (
            identity.kind != "user"
            or user.is_application_user
            or user.is_non_interactive
            or user.is_administrative  # administrative access mode needs no licence
        ):
            return
        if user.access_mode is None:
            return
        licences = self.index.one("user_licences", identity.tenant, identity.name)
        graph_empty = (
            licences is not None
            and isinstance(licences.fact, UserLicences)
            and not licences.fact.licences
        )
        if not graph_empty and user.is_licensed is not False:
            return
        since = (
            licences.first_seen if graph_empty and licences is not None else observation.first_seen
        )
        where = "in Entra ID" if graph_empty else f"in {environment} (islicensed false)"
        self.add(
            FindingKind.LICENCE,
            Level.CRITICAL,
            licences if graph_empty and licences is not None else observation,
            subject=f"licence of {identity.username}",
            summary=f"an interactive user of {environment} without a licence {where}: "
            "Dataverse disables users who have none",
            remedy="assign a Dynamics 365 / Power Apps licence again, or make the account a "
            "non-interactive user (Access mode: Non-interactive), or move the integration to an "
            "application user",
            subject_id="licence",
            identity=identity.name,
            environment=environment,
            deadline=since,
        )

    def classify(self, identity: IdentityConfig) -> str:
        read = [
            o.fact
            for environment in identity.environments
            if (o := self.index.one("systemuser", identity.tenant, identity.name, environment))
            is not None
            and isinstance(o.fact, SystemUser)
        ]
        users = [user for user in read if user.found]
        if read and not users:
            return NOT_A_USER
        licences = self.licences.get(identity.name)
        if any(u.is_application_user for u in users):
            return APPLICATION_USER
        if users and all(u.is_non_interactive for u in users):
            return NON_INTERACTIVE_USER
        if users and all(u.is_non_interactive or u.is_administrative for u in users):
            return ADMINISTRATIVE_USER
        if users:
            licensed = bool(licences) or any(u.is_licensed for u in users)
            label = f"{INTERACTIVE_USER} ({'licensed' if licensed else 'unlicensed'})"
            if licensed and identity.kind == "user":
                self.named_user(identity, licences or ())
            return label
        return NOT_CLASSIFIED

    def named_user(self, identity: IdentityConfig, licences: Sequence[str]) -> None:
        observation = next(
            o
            for environment in identity.environments
            if (o := self.index.one("systemuser", identity.tenant, identity.name, environment))
            is not None
            and isinstance(o.fact, SystemUser)
            and o.fact.found
        )
        held = f" ({', '.join(licences)})" if licences else ""
        self.add(
            FindingKind.IDENTITY_TYPE,
            Level.WARNING,
            observation,
            subject=f"account {identity.username}",
            summary=f"a named, licensed user{held} runs this integration: it breaks when the "
            "password changes or the person leaves, and it spends that person's API allocation",
            remedy="move the integration to an application user (client credentials), or to a "
            "non-interactive user",
            subject_id="named-user",
            identity=identity.name,
            environment="",
        )
        self.recommends_non_interactive.setdefault(identity.tenant, []).append(identity.name)

    # -- tenants and environments -------------------------------------------------------------

    def environment(self, name: str, tenant: str) -> int | None:
        observation = self.index.one("noninteractive_users", tenant, None, name)
        if observation is None or not isinstance(observation.fact, NonInteractiveUsers):
            return None
        count = observation.fact.count
        limit = self.thresholds.non_interactive_limit
        if count < limit - 1:
            return count
        disabled = (
            f" (including {observation.fact.disabled} disabled)"
            if observation.fact.disabled
            else ""
        )
        if count == limit - 1:
            level, summary = (
                Level.INFO,
                f"{count} of {limit} non-interactive users used{disabled}: one left",
            )
        elif count == limit:
            level, summary = (
                Level.WARNING,
                f"{count} of {limit} non-interactive users used{disabled}: no further one can "
                "be created",
            )
        else:
            level, summary = (
                Level.WARNING,
                f"{count} non-interactive users{disabled}, more than the documented limit of "
                f"{limit}",
            )
        self.add(
            FindingKind.CAPACITY,
            level,
            observation,
            subject=f"non-interactive users of {name}",
            summary=summary,
            remedy="use application users for new integrations (they do not count towards the "
            "limit) and remove non-interactive users nobody uses",
            subject_id="non-interactive-users",
            details={"count": count, "limit": limit},
        )
        return count

    def tenant(self, tenant: str) -> tuple[SkuPosture, ...]:
        observations = sorted(
            (
                o
                for o in self.index.many("subscribed_sku", tenant)
                if isinstance(o.fact, SubscribedSku)
            ),
            key=lambda o: o.fact.part_number if isinstance(o.fact, SubscribedSku) else "",
        )
        skus = [o.fact for o in observations if isinstance(o.fact, SubscribedSku)]
        seats = {s.sku_id: _seat(s) for s in skus}
        summary = tuple(
            SkuPosture(
                s.part_number,
                s.enabled,
                s.consumed,
                s.spare,
                s.capability_status,
                _seat_words(seats[s.sku_id]),
            )
            for s in skus
        )
        wanting = self.recommends_non_interactive.get(tenant)
        usable = [s for s in skus if seats[s.sku_id].use == "dataverse" and s.spare > 0]
        judged = all(seat.use is not None for seat in seats.values())
        if wanting and skus and judged and not usable:
            listed = ", ".join(
                f"{s.part_number} {s.consumed}/{s.enabled}"
                + (f" ({seats[s.sku_id].why})" if seats[s.sku_id].use != "dataverse" else "")
                for s in skus
            )
            on_demand = [
                s.part_number for s in skus if seats[s.sku_id].use == "on_demand" and s.spare > 0
            ]
            extra = (
                f"; the spare Microsoft 365 seats ({', '.join(on_demand)}) are usable only by "
                "adding the user on demand"
                if on_demand
                else ""
            )
            self.add(
                FindingKind.LICENCE,
                Level.WARNING,
                observations[0],
                subject="spare licences",
                summary=f"no spare licence that gets a user into Dataverse in tenant {tenant} "
                f"({listed}), while {', '.join(wanting)} should move to a non-interactive user, "
                f"whose creation needs such a licence for a moment{extra}",
                remedy="free or buy one Dynamics 365 or Power Apps / Power Automate per-user "
                "licence before creating the non-interactive user, or move the integration to "
                "an application user (needs no licence)",
                subject_id="spare-licences",
                identity="",
                environment="",
                source="graph",
                details={"on_demand": tuple(on_demand)} if on_demand else None,
            )
        return summary

    def password_sign_in(self, identity: IdentityConfig) -> None:
        """Advice for every password identity: the sign-in it relies on is being retired."""
        self.findings.append(
            Finding.create(
                FindingKind.IDENTITY_TYPE,
                Level.INFO,
                tenant=identity.tenant,
                identity=identity.name,
                environment=None,
                subject_id="password-sign-in",
                subject=f"password sign-in of {identity.username or identity.name}",
                summary="signs in with username and password (ROPC): MSAL deprecates this flow "
                "for public clients, and it stops working as soon as multifactor "
                "authentication is required for the account",
                remedy="move the integration to an application user (client credentials, "
                f"preferably with a certificate); see {ROPC_MIGRATION}",
                observed_at=self.now,
                source="configuration",
            )
        )

    def not_observed_findings(self) -> None:
        """One finding per tenant and reason why facts cannot be read (every missing permission
        of the observer apart). A reason that may pass (throttled, unreachable, 5xx) counts only
        once reads have failed for the threshold (:meth:`failed_long_enough`); meanwhile the
        facts keep their last known values."""
        groups: dict[tuple[str, str, str], list[Observation]] = {}
        for observation in self.index.all:
            if not observation.failing or observation.cause == "not_read":
                continue
            if observation.cause in TRANSIENT_CAUSES and not self.failed_long_enough(observation):
                continue
            if observation.cause == "elsewhere":
                declared = self.index.one(
                    "declared_expiry", observation.tenant, observation.identity
                )
                if declared is not None and declared.observed:
                    continue  # the operator declared the date Graph cannot show
                group = (observation.tenant, "elsewhere", observation.identity or "")
            elif observation.cause == "permission":
                group = (observation.tenant, "permission", _slug(observation.reason or ""))
            else:
                group = (observation.tenant, str(observation.cause), "")
            groups.setdefault(group, []).append(observation)
        for (tenant, cause, detail), members in sorted(groups.items()):
            first = members[0]
            level = Level.INFO if cause in ("no_observer", "unsupported") else Level.WARNING
            identities = sorted({o.identity for o in members if o.identity})
            facts = sorted({o.kind for o in members})
            affected = f"{len(members)} fact{'s' if len(members) != 1 else ''}"
            if identities:
                affected += f" of {', '.join(identities[:5])}" + (
                    "…" if len(identities) > 5 else ""
                )
            kept = sum(1 for o in members if o.observed)
            if kept:
                oldest = min(o.observed_at for o in members if o.observed)
                affected += f"; {kept} kept as last read, the oldest on {_date(oldest)}"
            failing = [o.failing_since for o in members if o.failing_since is not None]
            since = f" since {_date(min(failing))}" if failing and cause in TRANSIENT_CAUSES else ""
            self.add(
                FindingKind.NOT_OBSERVED,
                level,
                first,
                subject=f"{', '.join(facts)}",
                summary=f"not observed{since}: {first.reason} ({affected})",
                remedy=_not_observed_remedy(cause, tenant),
                subject_id=f"{cause}:{detail}" if detail else cause,
                identity=first.identity if cause == "elsewhere" else "",
                environment="",
                details={"facts": tuple(facts), "count": len(members), "cause": cause},
            )

    def discovered(self) -> None:
        """Info findings for an integration identity that appeared in an environment after its
        first discovery, or that is no longer there ([discovery] watch = "posture")."""
        for observation in self.index.all:
            fact = observation.fact
            if not isinstance(fact, DiscoveredIdentityFact) or fact.observer:
                continue
            environment = observation.environment or ""
            who = (
                f"{fact.identity_kind} '{fact.display_name}' "
                f"({fact.client_id or fact.user_principal_name or fact.key})"
            )
            configured = (
                f"configured as {fact.configured_as}"
                if fact.configured_as
                else "not configured: watched without signing in as it"
            )
            if fact.gone is not None and self.now - fact.gone < NOTE_WINDOW:
                self.add(
                    FindingKind.IDENTITY_TYPE,
                    Level.INFO,
                    observation,
                    subject=who,
                    summary=f"integration identity gone from {environment}: {who} is no longer "
                    f"a user there (since {_date(fact.gone)})",
                    remedy="nothing to do if it was retired on purpose; otherwise find out who "
                    "removed it before its integration fails",
                    subject_id=f"gone:{fact.key}",
                    identity="",
                )
            elif fact.appeared is not None and self.now - fact.appeared < NOTE_WINDOW:
                self.add(
                    FindingKind.IDENTITY_TYPE,
                    Level.INFO,
                    observation,
                    subject=who,
                    summary=f"new integration identity in {environment}: {who}, {configured}",
                    remedy="find its owner; configure it in monitor.toml (`monitor discover "
                    "--toml`) to have it probed too",
                    subject_id=f"new:{fact.key}",
                    identity="",
                )

    def failed_long_enough(self, observation: Observation) -> bool:
        """Whether the reads of *observation* have failed often enough, for long enough
        (``[directory] not_observed_after_failures`` / ``not_observed_after_minutes``)."""
        settings = self.config.directory
        if observation.failed_reads < settings.not_observed_after_failures:
            return False
        since = observation.failing_since or observation.observed_at
        return self.now - since >= timedelta(minutes=settings.not_observed_after_minutes)


DISCOVERED_MARK = "discovered (not probed)"


def _marked(finding: Finding) -> Finding:
    """Return *finding* of a discovered identity marked as such (summary and details)."""
    return replace(
        finding,
        summary=f"{finding.summary} [{DISCOVERED_MARK}]",
        details=MappingProxyType({**finding.details, "discovered": True}),
    )


def _seat(sku: SubscribedSku) -> Seat:
    return seat_use(
        sku.part_number,
        applies_to=sku.applies_to,
        capability_status=sku.capability_status,
        plans=None
        if sku.service_plans is None
        else [(plan.name, plan.status) for plan in sku.service_plans],
    )


SEAT_DATAVERSE = "gets a user into Dataverse"


def _seat_words(seat: Seat) -> str:
    return SEAT_DATAVERSE if seat.use == "dataverse" else seat.why


def _not_observed_remedy(cause: str, tenant: str) -> str:
    return {
        "no_observer": f"configure tenants.{tenant}.observer (a read-only app registration; see "
        "the README, Posture) to read credential end dates, account state, licences and roles",
        "permission": "grant the observer the named Graph application permission (admin consent) "
        "or add it to the environment as an application user with a read-only role",
        "sign_in": f"fix the observer's credential (tenants.{tenant}.observer); until then the "
        "facts above are unknown, not healthy",
        "throttled": "nothing to do if it passes; the next directory read retries",
        "unreachable": "check the network path (proxy, DNS, ca_bundle) to Graph / Dataverse",
        "service_error": "the next directory read retries; if it persists, check the service "
        "health of Microsoft Graph / Dataverse",
        "elsewhere": "declare the expiry with credential_expires (and credential_expires_source)"
        " in the identity's configuration",
        "unsupported": "track this date where it is set (e.g. on-premises AD password policy)",
    }.get(cause, "see the reason")


def evaluate_posture(
    observations: Iterable[Observation],
    config: Config,
    now: datetime,
    *,
    thresholds: Thresholds | None = None,
) -> Posture:
    """Given the current observations, the configuration and ``now``, return the posture.

    Observations of tenants, identities and environments no longer configured are ignored.
    """
    thresholds = thresholds or Thresholds.of(config.directory)
    kept = [
        o
        for o in observations
        if o.tenant in config.tenants
        and (o.identity is None or o.identity in config.identities)
        and (o.environment is None or o.environment in config.environments)
    ]
    index = ObservationIndex(kept)
    rules = _Rules(index, config, now, thresholds)
    for identity in config.identities.values():
        rules.identity(identity)
        if identity.kind == "user" and not identity.discovered:
            rules.password_sign_in(identity)
    rules.discovered()
    for tenant in config.tenants:
        for subject in (OBSERVER_SUBJECT,):
            observer = index.one("app_credentials", tenant, None, None, subject)
            if observer is not None and observer.fact is not None:
                rules.app_credentials(None, observer)
            certificate = index.one("certificate_file", tenant, None, None, subject)
            if certificate is not None and certificate.fact is not None:
                rules.certificate_file(None, certificate)
    non_interactive: dict[str, int] = {}
    for name, environment in config.environments.items():
        count = rules.environment(name, environment.tenant)
        if count is not None:
            non_interactive[name] = count
    skus = {tenant: rules.tenant(tenant) for tenant in config.tenants}
    rules.not_observed_findings()
    identities = {}
    for identity in config.identities.values():
        deadlines = sorted(rules.deadlines.get(identity.name, []), key=lambda d: d.at)
        identities[identity.name] = IdentityPosture(
            identity=identity.name,
            tenant=identity.tenant,
            classification=rules.classifications.get(identity.name, NOT_CLASSIFIED),
            deadlines=tuple(deadlines),
            not_observed=tuple(rules.not_observed.get(identity.name, [])),
            licences=rules.licences.get(identity.name),
        )
    discovered = {i.name for i in config.identities.values() if i.discovered}
    findings = sorted(
        (_marked(f) if f.identity in discovered else f for f in rules.findings),
        key=lambda f: (-f.level.rank, f.deadline is None, f.deadline or now, f.key),
    )
    return Posture(
        findings=tuple(findings),
        identities=MappingProxyType(identities),
        skus=MappingProxyType(skus),
        non_interactive=MappingProxyType(non_interactive),
    )
