"""What a directory read observed, as plain frozen dataclasses (no I/O, no clock).

An :class:`Observation` is one fact about one thing (an identity's client secrets, a user's
licences, a role assignment, a tenant's SKU, an environment's non-interactive user count) with
its **source** and the time it was observed; a fact that could not be read is an observation
too, with no fact and a ``cause`` / ``reason``. Facts serialise to canonical JSON
(:func:`fact_to_text`), which the store compares to tell a changed fact from an unchanged one. A
fact never holds a secret or part of one (a credential's match is stored as ``in_use`` only).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import UTC, datetime
from types import UnionType
from typing import (
    Any,
    ClassVar,
    Literal,
    Self,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

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
# Failures that say nothing about a fact's value: a fact read before keeps its last known value
# (an expiry date does not go away because Graph answered 503 or the observer lost a
# permission). The others say the fact is not there to read (no observer, another tenant's
# registration, a fact that does not apply): its value is dropped.
KEEPS_LAST_VALUE: frozenset[str] = frozenset(
    {"sign_in", "permission", "throttled", "unreachable", "service_error", "not_read"}
)
# Failures that may pass by themselves: "not observed" is only raised for them after
# [directory] not_observed_after_failures reads in a row over not_observed_after_minutes, and a
# tenant with such failures is read again sooner than its interval.
TRANSIENT_CAUSES: frozenset[str] = frozenset({"throttled", "unreachable", "service_error"})

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

T = TypeVar("T")


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


def _same(value: object) -> object:
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Readers of a required field whose stored value is missing or of the wrong type.
_REQUIRED: dict[object, Callable[[object], object]] = {
    str: str,
    bool: bool,
    int: lambda value: _int(value) or 0,
    datetime: lambda value: _parse_time(value) or _EPOCH,
}
_OPTIONAL: dict[object, Callable[[object], object]] = {
    str: _str,
    bool: _bool,
    int: _int,
    datetime: _parse_time,
}


def ordered_by(key: Callable[[Any], Any]) -> dict[str, Any]:
    """Field metadata: a tuple field is stored sorted by *key*, so that the same items read in
    another order are the same fact (no change row)."""
    return {"order": key}


def unknown_reads_as(value: str) -> dict[str, Any]:
    """Field metadata: a stored value outside the field's ``Literal`` reads as *value* (by
    default: the field's default, else the first value of the ``Literal``)."""
    return {"unknown": value}


@dataclass(frozen=True)
class _Field:
    """How one dataclass field is stored in a fact's JSON form and read back from it."""

    name: str
    missing: object  # what a missing key reads as, before ``read``
    write: Callable[[Any], object]
    read: Callable[[object], object]


def _codec(hint: Any, spec: Field[Any]) -> tuple[Callable[[Any], object], Callable[[Any], Any]]:
    """Return (write, read) of a field of type *hint*: JSON values out, and back in (a value of
    the wrong type reads as None, or as the empty value of a required field)."""
    optional = get_origin(hint) in (Union, UnionType) and type(None) in get_args(hint)
    if optional:
        (hint,) = (arg for arg in get_args(hint) if arg is not type(None))
    if hint in _REQUIRED:
        return _time if hint is datetime else _same, (_OPTIONAL if optional else _REQUIRED)[hint]
    if get_origin(hint) is Literal:
        values = get_args(hint)
        fallback = spec.metadata.get("unknown", spec.default)
        fallback = values[0] if fallback is MISSING else fallback
        return _same, lambda value: value if value in values else fallback
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        order = spec.metadata.get("order")
        item_write: Callable[[Any], object] = _same if item is str else _to_json
        item_read: Callable[[Any], object] = (
            str if item is str else functools.partial(_from_json, item)
        )
        accepts = object if item is str else Mapping

        def write(items: tuple[Any, ...] | None) -> object:
            if items is None:
                return None
            return [item_write(one) for one in (sorted(items, key=order) if order else items)]

        def read(value: object) -> tuple[Any, ...] | None:
            if not isinstance(value, list):
                return None if optional else ()
            return tuple(item_read(one) for one in value if isinstance(one, accepts))

        return write, read
    raise TypeError(f"no JSON form for a field of type {hint!r}")


_FIELDS: dict[type, tuple[_Field, ...]] = {}


def _fields_of(record: type) -> tuple[_Field, ...]:
    """Return how each field of the dataclass *record* is written and read (built once)."""
    known = _FIELDS.get(record)
    if known is None:
        hints = get_type_hints(record)
        known = _FIELDS[record] = tuple(
            _Field(
                spec.name,
                ("" if hints[spec.name] is str else None)
                if spec.default is MISSING
                else spec.default,
                *_codec(hints[spec.name], spec),
            )
            for spec in fields(record)
        )
    return known


def _to_json(record: Any) -> dict[str, Any]:
    return {one.name: one.write(getattr(record, one.name)) for one in _fields_of(type(record))}


def _from_json(record: type[T], data: Mapping[str, Any]) -> T:
    values = {one.name: one.read(data.get(one.name, one.missing)) for one in _fields_of(record)}
    return record(**values)


class Fact:
    """Base of every fact: a kind name and a JSON form.

    The JSON form of a fact (and of the records it holds) follows from its fields' types:
    datetimes as ISO text in UTC, tuples as lists (sorted where a field says
    :func:`ordered_by`), everything else as it is. Reading it back never fails on a missing or
    mistyped value (it reads as None, or as the empty value of a required field), only on a
    malformed time.
    """

    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return _from_json(cls, data)


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
    matched_by: MatchMethod = field(metadata=unknown_reads_as("none"))
    credentials: tuple[RegisteredCredential, ...] = ()
    configured_fingerprint: str | None = None

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


@dataclass(frozen=True)
class CertificateFile(Fact):
    """The configured certificate file's own end date (``notAfter``), independent of Graph."""

    kind: ClassVar[str] = "certificate_file"
    not_after: datetime
    thumbprint_sha1: str | None = None


@dataclass(frozen=True)
class DeclaredExpiry(Fact):
    """An expiry date the operator declared in the configuration, with where it comes from."""

    kind: ClassVar[str] = "declared_expiry"
    expires: datetime
    label: str = ""


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
    licences: tuple[Licence, ...] = field(
        default=(), metadata=ordered_by(lambda licence: licence.sku_id)
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


@dataclass(frozen=True)
class ServicePlan:
    """A service plan of a SKU (``servicePlanName``, ``provisioningStatus``, ``appliesTo``)."""

    name: str
    status: str = "Success"
    applies_to: str = "User"


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
    roles: tuple[RoleGrant, ...] = field(
        default=(),
        metadata=ordered_by(lambda role: (role.name.lower(), role.team or "", role.role_id)),
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


@dataclass(frozen=True)
class DiscoveredIdentityFact(Fact):
    """An application user or non-interactive user discovery found in one environment
    (``[discovery] watch = "posture"``; subject: its key, the app's client id or the user's
    object id). ``appeared``: when it first appeared after the environment's first discovery
    (None: there from the start); ``gone``: when it was no longer there (kept a while to note
    it)."""

    kind: ClassVar[str] = "discovered_identity"
    identity_kind: str
    key: str
    display_name: str = ""
    client_id: str | None = None
    user_principal_name: str | None = None
    configured_as: str | None = None
    observer: bool = False
    appeared: datetime | None = None
    gone: datetime | None = None


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
        DiscoveredIdentityFact,
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

    A stored fact whose latest reads failed (filled in by the store) keeps its last known value
    when the failure says nothing about the value (:data:`KEEPS_LAST_VALUE`): ``fact`` is that
    value, ``observed_at`` when it was last read, ``cause`` / ``reason`` why reading it fails
    now, ``failed_reads`` how many reads in a row failed and ``failing_since`` when the first
    of them was.
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
    failed_reads: int = 0
    failing_since: datetime | None = None

    @property
    def key(self) -> str:
        """The stable key of this fact: ``kind:tenant/identity/environment:subject``."""
        scope = "/".join(part or "-" for part in (self.tenant, self.identity, self.environment))
        return f"{self.kind}:{scope}:{self.subject}"

    @property
    def observed(self) -> bool:
        return self.fact is not None

    @property
    def failing(self) -> bool:
        """Whether the latest read of this fact failed (its value, if any, is the last known)."""
        return self.cause is not None

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
    failed_reads: int = 0,
    failing_since: datetime | None = None,
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
        failed_reads=failed_reads,
        failing_since=failing_since,
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
