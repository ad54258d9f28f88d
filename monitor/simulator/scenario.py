"""Scenarios: the tenants, identities and environments a simulator serves, as a mutable model.

A scenario is a TOML file (parsed with :mod:`tomllib`) or a :class:`Scenario` built in code; the
file format, with a complete commented template, is in docs/simulator.md ("Scenario file"). The
loaded model is live: the simulator reads it on every request, so a test can revoke a secret,
disable a user or add a fault while the server runs (through the :class:`Scenario` /
:class:`~monitor.simulator.Simulator` methods, or holding ``scenario.lock``). Every problem in a
file is reported at once (:class:`ScenarioError`), never echoing a secret; identifiers that are
not given are derived from names (UUID v5), so they stay the same across restarts.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from hashlib import sha1, sha256
from importlib import resources
from pathlib import Path
from typing import TypeVar, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from monitor.simulator.faults import (
    FAMILIES,
    FAULT_MODES,
    UNKNOWN_ENUM_VALUE,
    EchoEncoding,
    Fault,
    FaultMode,
)
from monitor.simulator.skus import catalogue_entry

_ID_NAMESPACE = uuid.UUID("6f1c3c9e-3b0e-4f6e-9d2a-5c8e2a7b1d40")
_OFFSET = re.compile(r"^([+-])(\d+)([dhms])$")
_OFFSET_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
T = TypeVar("T")
DEFAULT_REQUEST_LIMIT = 6000
DEFAULT_WINDOW_SECONDS = 300.0
DEFAULT_EXECUTION_TIME_LIMIT_MS = 1_200_000
DEFAULT_GRAPH_PAGE_SIZE = 100
DEFAULT_DATAVERSE_PAGE_SIZE = 5000
DEFAULT_SECRET_AGE = dt.timedelta(days=30)  # startDateTime of a secret given without one
# Role templates of Dataverse's built-in roles (the same GUID in every environment).
SYSTEM_ADMINISTRATOR_TEMPLATE = "627090ff-40a3-4053-8790-584edc5be201"
SYSTEM_CUSTOMIZER_TEMPLATE = "119f245c-3cc8-4b62-b31c-d1a046ced15d"
BUILT_IN_ROLES = {
    "System Administrator": SYSTEM_ADMINISTRATOR_TEMPLATE,
    "System Customizer": SYSTEM_CUSTOMIZER_TEMPLATE,
}
SKU_STATUSES = ("Enabled", "Warning", "Suspended", "Deleted", "LockedOut")
SKU_APPLIES_TO = ("User", "Company")
DEFAULT_TENANT_CREATED = dt.datetime(2022, 3, 1, 9, 30, tzinfo=dt.UTC)
ACCESS_MODE_READ_WRITE = 0
ACCESS_MODE_NON_INTERACTIVE = 4


def stable_id(*parts: str) -> str:
    """Return a GUID derived from ``parts``: the same names always give the same id."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ScenarioError(ValueError):
    """A scenario file or table is invalid; ``problems`` holds one line per problem."""

    def __init__(self, source: Path | None, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        where = f"scenario {source}" if source is not None else "scenario"
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{where} is invalid:\n{lines}")


@dataclass
class Sku:
    """A subscribed SKU of a tenant (Graph ``subscribedSku``)."""

    part_number: str
    sku_id: str = ""
    enabled: int = 0  # prepaidUnits.enabled
    suspended: int = 0
    warning: int = 0
    consumed: int | None = None  # None: the number of users holding it
    status: str = "Enabled"  # capabilityStatus: Enabled, Warning, Suspended, Deleted, LockedOut
    applies_to: str = ""  # "User" or "Company"; "": the catalogue's (monitor.simulator.skus)
    service_plans: list[str] | None = None  # None: the catalogue's

    def __post_init__(self) -> None:
        self.sku_id = (self.sku_id or stable_id("sku", self.part_number)).lower()
        applies_to, plans = catalogue_entry(self.part_number)
        self.applies_to = self.applies_to or applies_to
        if self.service_plans is None:
            self.service_plans = list(plans)


@dataclass
class Tenant:
    """An Entra ID tenant, addressed by id or any of its domains.

    ``password_validity_days`` / ``password_notification_days`` are every domain's password
    policy (None is Graph's null: the tenant's default); ``skus`` are keyed by part number.
    """

    name: str
    tenant_id: str
    domain: str = ""
    extra_domains: tuple[str, ...] = ()
    display_name: str = ""
    password_validity_days: int | None = None
    password_notification_days: int | None = None
    skus: dict[str, Sku] = field(default_factory=dict)
    dataverse_disabled: bool = False  # Dynamics CRM's service principal disabled (AADSTS500014)
    created: dt.datetime = DEFAULT_TENANT_CREATED  # organization.createdDateTime
    federated_domains: tuple[str, ...] = ()  # authenticationType Federated (else Managed)

    def __post_init__(self) -> None:
        self.tenant_id = self.tenant_id.lower()
        self.domain = (self.domain or f"{self.name}.onmicrosoft.com").lower()
        self.extra_domains = tuple(d.lower() for d in self.extra_domains)
        self.federated_domains = tuple(d.lower() for d in self.federated_domains)
        self.display_name = self.display_name or self.name

    def add_sku(self, sku: Sku) -> Sku:
        self.skus[sku.part_number] = sku
        return sku

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.domain, *self.extra_domains)


@dataclass
class ClientSecret:
    """A client secret (password credential) of an app registration."""

    value: str = field(repr=False)
    end: dt.datetime | None = None  # None: never expires
    display_name: str = ""
    key_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    start: dt.datetime | None = None  # None: DEFAULT_SECRET_AGE before it was created
    created: dt.datetime = field(default_factory=_utcnow, repr=False)

    @property
    def effective_start(self) -> dt.datetime:
        return self.start if self.start is not None else self.created - DEFAULT_SECRET_AGE

    def is_expired(self, now: dt.datetime) -> bool:
        return self.end is not None and self.end <= now

    @property
    def hint(self) -> str:
        """The first three characters, as Entra shows them."""
        return self.value[:3]


@dataclass
class ClientCertificate:
    """A certificate (key credential) registered on an app registration."""

    certificate: x509.Certificate
    end: dt.datetime | None = None  # None: the certificate's notAfter
    display_name: str = ""
    key_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    sha1_thumbprint: bytes = field(init=False, repr=False)
    sha256_thumbprint: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        self.sha1_thumbprint = sha1(der, usedforsecurity=False).digest()
        self.sha256_thumbprint = sha256(der).digest()
        if not self.display_name:
            self.display_name = self.certificate.subject.rfc4514_string()

    @classmethod
    def from_pem(
        cls, pem: str | bytes, *, end: dt.datetime | None = None, display_name: str = ""
    ) -> ClientCertificate:
        """Given a PEM certificate (the first one is used), return its registration."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        return cls(x509.load_pem_x509_certificate(data), end=end, display_name=display_name)

    @property
    def start(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc

    @property
    def effective_end(self) -> dt.datetime:
        return self.end if self.end is not None else self.certificate.not_valid_after_utc

    def is_expired(self, now: dt.datetime) -> bool:
        return self.effective_end <= now

    @property
    def thumbprint(self) -> str:
        """The SHA-1 thumbprint in upper-case hex, as the portal shows it."""
        return self.sha1_thumbprint.hex().upper()


@dataclass
class Application:
    """An app registration in its home tenant, with service principals in ``tenants``."""

    client_id: str
    tenant: str  # home tenant name
    display_name: str = ""
    secrets: list[ClientSecret] = field(default_factory=list)
    certificates: list[ClientCertificate] = field(default_factory=list)
    other_tenants: list[str] = field(default_factory=list)
    enabled: bool = True
    allow_public_client: bool = False
    blocked_by_conditional_access: bool = False
    object_id: str = ""  # the service principal's object id
    graph_permissions: list[str] = field(default_factory=list)  # Graph application roles
    application_object_id: str = ""  # the application object's id (home tenant)
    service_principal: bool = True  # False: its enterprise application in the home tenant was
    # deleted (the registration remains: AADSTS7000229)
    owners: list[str] = field(default_factory=list)  # UPNs of the registration's owners

    def __post_init__(self) -> None:
        self.client_id = self.client_id.lower()
        self.display_name = self.display_name or self.client_id
        self.object_id = self.object_id or stable_id("service-principal", self.client_id)
        self.application_object_id = self.application_object_id or stable_id(
            "application", self.client_id
        )

    def has_service_principal_in(self, tenant_name: str) -> bool:
        if tenant_name == self.tenant:
            return self.service_principal
        return tenant_name in self.other_tenants


@dataclass
class User:
    """A user account that signs in with a password (ROPC)."""

    upn: str
    password: str = field(repr=False)
    tenant: str  # tenant name
    display_name: str = ""
    object_id: str = ""
    enabled: bool = True
    locked: bool = False  # locked by an administrator or for risk: only unlocking helps
    password_expired: bool = False
    mfa_required: bool = False
    blocked_by_conditional_access: bool = False
    licences: list[str] = field(default_factory=list)  # SKU part numbers
    password_policies: str | None = None  # Graph passwordPolicies, e.g. DisablePasswordExpiration
    synced_from_on_premises: bool = False
    # Run-time state, kept by the token endpoint.
    failed_attempts: int = 0  # consecutive wrong passwords since the last lockout or success
    locked_until: float | None = None  # time.monotonic() value; smart lockout in force before
    password_changed_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.upn = self.upn.lower()
        self.display_name = self.display_name or self.upn.split("@", 1)[0]
        self.object_id = self.object_id or stable_id("user", self.upn)


@dataclass
class Member:
    """An application user or user of a Dataverse environment, with its rate-limit counters."""

    app: str | None = None  # client id of an application user
    user: str | None = None  # UPN of a user
    disabled: bool = False
    burst_remaining: int | None = None  # start of the request counter; None: the limit
    time_remaining_ms: int | None = None  # start of the execution-time counter; None: the limit
    user_id: str = ""  # systemuserid
    access_mode: int | None = None  # None: 4 (non-interactive) for apps, 0 (read-write) for users
    licensed: bool | None = None  # None: whether the user holds a licence (apps: False)
    roles: list[str] = field(default_factory=list)  # security role names
    teams: list[str] = field(default_factory=list)  # team names
    missing_privilege: str | None = None  # a privilege its roles lack (0x80040220), e.g.
    # "prvReadAccount"
    # Run-time state, kept by WhoAmI.
    window_started: float | None = None  # time.monotonic() at the start of the current window
    remaining: int = field(default=-1, repr=False)
    remaining_ms: int = field(default=-1, repr=False)

    def __post_init__(self) -> None:
        if (self.app is None) == (self.user is None):
            raise ValueError("a member is exactly one of app (client id) or user (UPN)")
        self.app = self.app.lower() if self.app is not None else None
        self.user = self.user.lower() if self.user is not None else None
        self.user_id = self.user_id or stable_id("systemuser", self.key)

    @property
    def key(self) -> str:
        return f"app:{self.app}" if self.app is not None else f"user:{self.user}"

    @property
    def effective_access_mode(self) -> int:
        if self.access_mode is not None:
            return self.access_mode
        return ACCESS_MODE_NON_INTERACTIVE if self.app is not None else ACCESS_MODE_READ_WRITE


@dataclass
class Role:
    """A security role of an environment; custom roles have no template."""

    name: str
    role_id: str = ""
    template_id: str | None = None

    def __post_init__(self) -> None:
        self.role_id = self.role_id or stable_id("role", self.name)


@dataclass
class Team:
    """A Dataverse team; its members hold its roles."""

    name: str
    roles: list[str] = field(default_factory=list)
    team_id: str = ""

    def __post_init__(self) -> None:
        self.team_id = self.team_id or stable_id("team", self.name)


@dataclass
class Environment:
    """A Dataverse environment served at ``{authority_host}/env/{url_name}``."""

    name: str
    tenant: str  # tenant name
    url_name: str = ""
    organization_id: str = ""
    business_unit_id: str = ""
    request_limit: int = DEFAULT_REQUEST_LIMIT
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    execution_time_limit_ms: int = DEFAULT_EXECUTION_TIME_LIMIT_MS
    members: dict[str, Member] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)  # by lower-case name
    teams: dict[str, Team] = field(default_factory=dict)  # by lower-case name
    other_noninteractive_users: int = 0  # non-interactive systemusers besides the members
    other_interactive_users: int = 0  # read-write systemusers besides the members (scale)
    administration_mode: bool = False  # only System Administrators / Customizers may sign in

    def __post_init__(self) -> None:
        self.url_name = self.url_name or self.name
        self.organization_id = self.organization_id or stable_id("organization", self.name)
        self.business_unit_id = self.business_unit_id or stable_id("business-unit", self.name)
        for name, template in BUILT_IN_ROLES.items():
            if name.lower() not in self.roles:
                self.roles[name.lower()] = Role(
                    name, stable_id("role", self.name, name), template_id=template
                )

    def role(self, name: str) -> Role:
        """Return the role called ``name``, creating a custom role on first mention."""
        found = self.roles.get(name.lower())
        if found is None:
            found = self.roles[name.lower()] = Role(name, stable_id("role", self.name, name))
        return found

    def team(self, name: str) -> Team:
        """Return the team called ``name``, creating it (without roles) on first mention."""
        found = self.teams.get(name.lower())
        if found is None:
            found = Team(name, team_id=stable_id("team", self.name, name))
            self.teams[name.lower()] = found
        return found

    def add_member(self, member: Member) -> Member:
        self.members[member.key] = member
        return member

    def member_for_app(self, client_id: str) -> Member | None:
        return self.members.get(f"app:{client_id.lower()}")

    def member_for_user(self, upn: str) -> Member | None:
        return self.members.get(f"user:{upn.lower()}")


@dataclass
class Scenario:
    """The live model a simulator serves. Guard edits with ``lock`` (an RLock)."""

    name: str = "scenario"
    tenants: dict[str, Tenant] = field(default_factory=dict)  # by name
    applications: dict[str, Application] = field(default_factory=dict)  # by client id
    users: dict[str, User] = field(default_factory=dict)  # by lower-case UPN
    environments: dict[str, Environment] = field(default_factory=dict)  # by name
    faults: list[Fault] = field(default_factory=list)
    lockout_threshold: int = 10
    lockout_seconds: float = 60.0
    access_token_lifetime_seconds: int = 3599
    graph_page_size: int = DEFAULT_GRAPH_PAGE_SIZE
    dataverse_page_size: int = DEFAULT_DATAVERSE_PAGE_SIZE
    source: Path | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # -- building ---------------------------------------------------------------------------

    def add_tenant(self, tenant: Tenant) -> Tenant:
        """Add ``tenant``; raise ValueError if its name, id or a domain is already used."""
        with self.lock:
            for other in self.tenants.values():
                if other.name == tenant.name or other.tenant_id == tenant.tenant_id:
                    raise ValueError(f"tenant {tenant.name!r} / {tenant.tenant_id} already exists")
                if set(other.domains) & set(tenant.domains):
                    raise ValueError(f"a domain of tenant {tenant.name!r} is already used")
            self.tenants[tenant.name] = tenant
        return tenant

    def add_application(self, application: Application) -> Application:
        """Add ``application``; raise ValueError if a tenant it names is unknown."""
        with self.lock:
            self._require_tenants(application.tenant, *application.other_tenants)
            _put(self.applications, application.client_id, application, "application")
        return application

    def add_user(self, user: User) -> User:
        """Add ``user``; raise ValueError if its tenant is unknown or the UPN is taken."""
        with self.lock:
            self._require_tenants(user.tenant)
            _put(self.users, user.upn, user, "user")
        return user

    def add_environment(self, environment: Environment) -> Environment:
        """Add ``environment``; raise ValueError if its tenant is unknown or a name is taken."""
        with self.lock:
            self._require_tenants(environment.tenant)
            for other in self.environments.values():
                if environment.name == other.name or environment.url_name == other.url_name:
                    raise ValueError(f"environment {environment.name!r} already exists")
            self.environments[environment.name] = environment
        return environment

    def add_fault(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def _require_tenants(self, *names: str) -> None:
        """Raise ValueError naming the first of *names* that is not a tenant's name."""
        for name in names:
            if name not in self.tenants:
                raise ValueError(f"unknown tenant {name!r}")

    # -- lookups (callers hold the lock when they need a consistent view) --------------------

    def find_tenant(self, reference: str) -> Tenant | None:
        """Return the tenant whose name, id or domain is ``reference`` (case-insensitive)."""
        wanted = reference.lower()
        found = self.tenants.get(reference)
        if found is not None:
            return found
        for tenant in self.tenants.values():
            if wanted == tenant.tenant_id or wanted in tenant.domains:
                return tenant
        return None

    def tenant_for_upn(self, upn: str) -> Tenant | None:
        domain = upn.rpartition("@")[2].lower()
        for tenant in self.tenants.values():
            if domain in tenant.domains:
                return tenant
        return None

    def environment_by_url_name(self, url_name: str) -> Environment | None:
        """Return the environment served under ``/env/{url_name}`` (case-insensitive)."""
        wanted = url_name.lower()
        for environment in self.environments.values():
            if environment.url_name.lower() == wanted:
                return environment
        return None

    def application(self, client_id: str) -> Application:
        """Return the application; raise KeyError if there is none."""
        found = self.applications.get(client_id.lower())
        if found is None:
            raise KeyError(f"no application {client_id}")
        return found

    def user(self, upn: str) -> User:
        """Return the user; raise KeyError if there is none."""
        found = self.users.get(upn.lower())
        if found is None:
            raise KeyError(f"no user {upn}")
        return found

    def environment(self, name: str) -> Environment:
        """Return the environment; raise KeyError if there is none."""
        found = self.environments.get(name)
        if found is None:
            raise KeyError(f"no environment {name}")
        return found


# -- loading ------------------------------------------------------------------------------------


def _put(items: dict[str, T], key: str, item: T, what: str) -> None:
    """Add *item* under *key*; raise ValueError if the key is taken (*what*: its kind)."""
    if key in items:
        raise ValueError(f"{what} {key} already exists")
    items[key] = item


def demo_scenario_path() -> Path:
    """Return the path of the shipped demo scenario (``scenarios/demo.toml`` in the package)."""
    resource = resources.files("monitor.simulator").joinpath("scenarios", "demo.toml")
    return Path(str(resource))


def load_scenario(path: Path, *, now: dt.datetime | None = None) -> Scenario:
    """Given a scenario TOML file, return the model it describes.

    Relative end dates (``"+10d"``, ``"expired"``) are resolved against ``now`` (default: the
    current time) and certificate paths against the file's directory. Raise ScenarioError
    listing every problem if the file cannot be read or is invalid.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(path, [f"cannot read the file: {error.strerror}"]) from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(path, [f"TOML syntax error: {error}"]) from error
    return scenario_from_dict(data, base_dir=path.parent, source=path, now=now)


def scenario_from_dict(
    data: Mapping[str, object],
    *,
    base_dir: Path | None = None,
    source: Path | None = None,
    now: dt.datetime | None = None,
) -> Scenario:
    """Given the parsed TOML of a scenario, return its model; raise ScenarioError if invalid."""
    problems: list[str] = []
    when = now if now is not None else _utcnow()
    root = _Fields(data, "", problems)
    scenario = Scenario(name=root.text("name", default="scenario") or "scenario", source=source)
    settings = root.table("settings")
    if settings is not None:
        scenario.lockout_threshold = settings.integer("lockout_threshold", 10, minimum=1)
        scenario.lockout_seconds = settings.number("lockout_seconds", 60.0)
        scenario.access_token_lifetime_seconds = settings.integer(
            "access_token_lifetime_seconds", 3599, minimum=1
        )
        scenario.graph_page_size = settings.integer(
            "graph_page_size", DEFAULT_GRAPH_PAGE_SIZE, minimum=1
        )
        scenario.dataverse_page_size = settings.integer(
            "dataverse_page_size", DEFAULT_DATAVERSE_PAGE_SIZE, minimum=1
        )
        settings.finish()
    for fields in root.tables("tenants"):
        _read_tenant(fields, scenario)
    for fields in root.tables("apps"):
        _read_application(fields, scenario, base_dir, when)
    for fields in root.tables("users"):
        _read_user(fields, scenario, when)
    for fields in root.tables("environments"):
        _read_environment(fields, scenario)
    scale = root.table("scale")
    if scale is not None:
        _read_scale(scale, scenario, when)
    for fields in root.tables("faults"):
        fault = read_fault(fields)
        if fault is not None:
            scenario.faults.append(fault)
    root.finish()
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def _read_tenant(fields: _Fields, scenario: Scenario) -> None:
    name = fields.text("name", required=True)
    tenant_id = fields.guid("id")
    domain = fields.text("domain")
    extra = fields.texts("domains")
    display_name = fields.text("display_name")
    validity = fields.optional_integer("password_validity_days", minimum=1)
    notification = fields.optional_integer("password_notification_days", minimum=0)
    dataverse_disabled = fields.flag("dataverse_disabled", False)
    created = fields.end_date("created", _utcnow())
    federated = fields.texts("federated_domains")
    skus: list[Sku] = []
    for sku_fields in fields.tables("skus"):
        part_number = sku_fields.text("part_number", required=True)
        sku = Sku(
            part_number=part_number or "",
            sku_id=sku_fields.guid("id") or "",
            enabled=sku_fields.integer("enabled", 0),
            suspended=sku_fields.integer("suspended", 0),
            warning=sku_fields.integer("warning", 0),
            consumed=sku_fields.optional_integer("consumed"),
            status=sku_fields.text("status", default="Enabled") or "Enabled",
            applies_to=sku_fields.text("applies_to", default="") or "",
            service_plans=sku_fields.texts("service_plans")
            if "service_plans" in sku_fields
            else None,
        )
        sku_fields.finish()
        if sku.status not in SKU_STATUSES:
            sku_fields.problem("status", f"expected one of {', '.join(SKU_STATUSES)}")
        elif sku.applies_to not in SKU_APPLIES_TO:
            sku_fields.problem("applies_to", f"expected one of {', '.join(SKU_APPLIES_TO)}")
        elif part_number is not None:
            skus.append(sku)
    fields.finish()
    if name is None:
        return
    tenant = Tenant(
        name=name,
        tenant_id=tenant_id or stable_id("tenant", name),
        domain=domain or "",
        extra_domains=tuple(extra),
        display_name=display_name or "",
        password_validity_days=validity,
        password_notification_days=notification,
        dataverse_disabled=dataverse_disabled,
        created=created or DEFAULT_TENANT_CREATED,
        federated_domains=tuple(federated),
    )
    for sku in skus:
        tenant.add_sku(sku)
    try:
        scenario.add_tenant(tenant)
    except ValueError as error:
        fields.problem("name", str(error))


def _resolve_tenant(fields: _Fields, key: str, value: str | None, scenario: Scenario) -> str | None:
    if value is None:
        return None
    tenant = scenario.find_tenant(value)
    if tenant is None:
        fields.problem(key, f"unknown tenant {value!r}; declare it in [[tenants]] first")
        return None
    return tenant.name


def _read_application(
    fields: _Fields, scenario: Scenario, base_dir: Path | None, now: dt.datetime
) -> None:
    client_id = fields.guid("client_id", required=True)
    home = _resolve_tenant(fields, "tenant", fields.text("tenant", required=True), scenario)
    others = [
        resolved
        for index, reference in enumerate(fields.texts("tenants"))
        if (resolved := _resolve_tenant(fields, f"tenants[{index}]", reference, scenario))
    ]
    secrets: list[ClientSecret] = []
    for secret_fields in fields.tables("secrets"):
        value = secret_fields.text("value", required=True, secret=True)
        end = secret_fields.end_date("end", now)
        start = secret_fields.end_date("start", now)
        secret_name = secret_fields.text("name", default="") or ""
        secret_fields.finish()
        if value is not None:
            secrets.append(
                ClientSecret(
                    value=value, end=end, display_name=secret_name, start=start, created=now
                )
            )
    certificates: list[ClientCertificate] = []
    for certificate_fields in fields.tables("certificates"):
        certificate = _read_certificate(certificate_fields, base_dir, now)
        if certificate is not None:
            certificates.append(certificate)
    application = Application(
        client_id=client_id or "00000000-0000-0000-0000-000000000000",
        tenant=home or "",
        display_name=fields.text("name", default="") or "",
        secrets=secrets,
        certificates=certificates,
        other_tenants=others,
        enabled=fields.flag("enabled", True),
        allow_public_client=fields.flag("allow_public_client", False),
        blocked_by_conditional_access=fields.flag("blocked_by_conditional_access", False),
        object_id=fields.guid("object_id") or "",
        graph_permissions=fields.texts("graph_permissions"),
        service_principal=fields.flag("service_principal", True),
        owners=[owner.lower() for owner in fields.texts("owners")],
    )
    fields.finish()
    if client_id is None or home is None:
        return
    if application.client_id in scenario.applications:
        fields.problem("client_id", f"application {client_id} is declared twice")
        return
    scenario.applications[application.client_id] = application


def _read_certificate(
    fields: _Fields, base_dir: Path | None, now: dt.datetime
) -> ClientCertificate | None:
    path_text = fields.text("path")
    pem_text = fields.text("pem")
    end = fields.end_date("end", now)
    display_name = fields.text("name", default="") or ""
    fields.finish()
    if (path_text is None) == (pem_text is None):
        fields.problem("path", "give exactly one of path (a PEM file) or pem (inline PEM)")
        return None
    if path_text is not None:
        path = Path(path_text)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            data = path.read_bytes()
        except OSError as error:
            fields.problem("path", f"cannot read {path}: {error.strerror}")
            return None
        key = "path"
    else:
        data = (pem_text or "").encode("utf-8")
        key = "pem"
    try:
        return ClientCertificate.from_pem(data, end=end, display_name=display_name)
    except ValueError:
        fields.problem(key, "expected a PEM certificate (-----BEGIN CERTIFICATE-----)")
        return None


def _read_user(fields: _Fields, scenario: Scenario, now: dt.datetime) -> None:
    upn = fields.text("upn", required=True)
    password = fields.text("password", required=True, secret=True)
    tenant_reference = fields.text("tenant")
    tenant_name = _resolve_tenant(fields, "tenant", tenant_reference, scenario)
    if tenant_reference is None and upn is not None:
        tenant = scenario.tenant_for_upn(upn)
        if tenant is None:
            fields.problem("tenant", f"no tenant owns the domain of {upn!r}; set tenant")
        else:
            tenant_name = tenant.name
    if upn is not None and "@" not in upn:
        fields.problem("upn", f"expected a user principal name like name@domain, found {upn!r}")
        upn = None
    user = User(
        upn=upn or "invalid@invalid",
        password=password or "",
        tenant=tenant_name or "",
        display_name=fields.text("name", default="") or "",
        object_id=fields.guid("object_id") or "",
        enabled=fields.flag("enabled", True),
        locked=fields.flag("locked", False),
        password_expired=fields.flag("password_expired", False),
        mfa_required=fields.flag("mfa_required", False),
        blocked_by_conditional_access=fields.flag("blocked_by_conditional_access", False),
        licences=fields.texts("licences"),
        password_policies=fields.text("password_policies"),
        synced_from_on_premises=fields.flag("synced_from_on_premises", False),
    )
    changed = fields.end_date("password_changed", now)
    if changed is not None:
        user.password_changed_at = changed.timestamp()
    fields.finish()
    if upn is None or password is None or tenant_name is None:
        return
    tenant = scenario.tenants.get(tenant_name)
    for index, licence in enumerate(user.licences):
        if tenant is not None and licence not in tenant.skus:
            fields.problem(
                f"licences[{index}]", f"unknown SKU {licence!r}; declare it in the tenant's skus"
            )
    if user.upn in scenario.users:
        fields.problem("upn", f"user {upn} is declared twice")
        return
    scenario.users[user.upn] = user


def _read_environment(fields: _Fields, scenario: Scenario) -> None:
    name = fields.text("name", required=True)
    tenant_name = _resolve_tenant(fields, "tenant", fields.text("tenant", required=True), scenario)
    url_name = fields.text("url_name", default="") or ""
    if url_name and not re.fullmatch(r"[A-Za-z0-9._-]+", url_name):
        fields.problem("url_name", "use letters, digits, '.', '_' and '-' only")
    environment = Environment(
        name=name or "invalid",
        tenant=tenant_name or "",
        url_name=url_name,
        organization_id=fields.guid("organization_id") or "",
        business_unit_id=fields.guid("business_unit_id") or "",
        request_limit=fields.integer("request_limit", DEFAULT_REQUEST_LIMIT, minimum=1),
        window_seconds=fields.number("window_seconds", DEFAULT_WINDOW_SECONDS),
        execution_time_limit_ms=fields.integer(
            "execution_time_limit_ms", DEFAULT_EXECUTION_TIME_LIMIT_MS, minimum=1
        ),
        other_noninteractive_users=fields.integer("other_noninteractive_users", 0),
        other_interactive_users=fields.integer("other_interactive_users", 0),
        administration_mode=fields.flag("administration_mode", False),
    )
    for role_fields in fields.tables("roles"):
        role_name = role_fields.text("name", required=True)
        template_id = role_fields.guid("template_id")
        role_fields.finish()
        if role_name is not None:
            role = environment.role(role_name)
            if template_id is not None:
                role.template_id = template_id
    for team_fields in fields.tables("teams"):
        team_name = team_fields.text("name", required=True)
        team_roles = team_fields.texts("roles")
        team_fields.finish()
        if team_name is not None:
            environment.team(team_name).roles[:] = [environment.role(r).name for r in team_roles]
    for member_fields in fields.tables("members"):
        app = member_fields.text("app")
        user = member_fields.text("user")
        disabled = member_fields.flag("disabled", False)
        user_id = member_fields.guid("user_id") or ""
        burst = member_fields.optional_integer("burst_remaining")
        time_remaining = member_fields.optional_integer("time_remaining_ms")
        access_mode = member_fields.optional_integer("access_mode")
        licensed = member_fields.optional_flag("licensed")
        roles = [environment.role(role).name for role in member_fields.texts("roles")]
        teams = [environment.team(team).name for team in member_fields.texts("teams")]
        missing_privilege = member_fields.text("missing_privilege")
        member_fields.finish()
        if access_mode is not None and access_mode > 5:
            member_fields.problem("access_mode", "expected 0 to 5 (4 is non-interactive)")
        if (app is None) == (user is None):
            member_fields.problem("app", "give exactly one of app (client id) or user (UPN)")
            continue
        if app is not None and app.lower() not in scenario.applications:
            member_fields.problem("app", f"unknown application {app!r}; declare it in [[apps]]")
            continue
        if user is not None and user.lower() not in scenario.users:
            member_fields.problem("user", f"unknown user {user!r}; declare it in [[users]]")
            continue
        environment.add_member(
            Member(
                app=app,
                user=user,
                disabled=disabled,
                user_id=user_id,
                burst_remaining=burst,
                time_remaining_ms=time_remaining,
                access_mode=access_mode,
                licensed=licensed,
                roles=roles,
                teams=teams,
                missing_privilege=missing_privilege,
            )
        )
    fields.finish()
    if name is None or tenant_name is None:
        return
    try:
        scenario.add_environment(environment)
    except ValueError as error:
        fields.problem("name", str(error))


def _read_scale(fields: _Fields, scenario: Scenario, now: dt.datetime) -> None:
    """Read ``[scale]``: generate a large tenant (see :func:`add_scale`)."""
    environment = fields.text("environment", required=True)
    app_users = fields.integer("app_users", 0)
    registrations = fields.integer("app_registrations", 0)
    other_users = fields.integer("other_users", 0)
    fields.finish()
    if environment is None:
        return
    if environment not in scenario.environments:
        fields.problem("environment", f"unknown environment {environment!r}")
        return
    add_scale(
        scenario,
        environment,
        app_users=app_users,
        app_registrations=registrations,
        other_users=other_users,
        now=now,
    )


def add_scale(
    scenario: Scenario,
    environment: str,
    *,
    app_users: int,
    app_registrations: int,
    other_users: int = 0,
    now: dt.datetime | None = None,
) -> None:
    """Add *app_registrations* app registrations to *environment*'s tenant, the first
    *app_users* of them application users of *environment* (a "Scale reader" role, every tenth
    System Administrator), and *other_users* interactive systemusers (read-write, no Entra
    account behind them). Names and ids are stable: ``Scale app 0001`` ..."""
    when = now if now is not None else _utcnow()
    with scenario.lock:
        target = scenario.environment(environment)
        for index in range(1, max(app_registrations, app_users) + 1):
            client_id = stable_id("scale-app", environment, str(index))
            if client_id in scenario.applications:
                continue
            secret = ClientSecret(
                value=f"sc{index:05d}~{stable_id('scale-secret', str(index))}",
                end=when + dt.timedelta(days=30 + index % 700),
                display_name=f"scale {index}",
                key_id=stable_id("scale-key", environment, str(index)),
                created=when,
            )
            scenario.applications[client_id] = Application(
                client_id=client_id,
                tenant=target.tenant,
                display_name=f"Scale app {index:04d}",
                secrets=[secret],
            )
            if index <= app_users:
                roles = ["System Administrator"] if index % 10 == 0 else ["Scale reader"]
                target.add_member(
                    Member(app=client_id, roles=[target.role(name).name for name in roles])
                )
        target.other_interactive_users += other_users


def read_fault(fields: _Fields) -> Fault | None:
    """Read one ``[[faults]]`` table; record problems on ``fields`` and return None if invalid."""
    family = fields.text("family", required=True)
    mode = fields.text("mode", required=True)
    seconds = fields.number("seconds", 1.0)
    retry_after = fields.integer("retry_after", 60)
    count = fields.optional_integer("count", minimum=1)
    client_id = fields.text("client_id")
    username = fields.text("username")
    environment = fields.text("environment")
    text_body = fields.flag("text_body", False)
    encoding = fields.text("encoding") or "raw"
    path = fields.text("path")
    changed = fields.text("field")
    value = fields._get("value")
    fields.finish()
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
        fields.problem("value", "expected a string or an integer")
        value = None
    if family is not None and family not in (*FAMILIES, "*"):
        fields.problem("family", f"expected one of {', '.join((*FAMILIES, '*'))}, found {family!r}")
        return None
    if mode is not None and mode not in FAULT_MODES:
        fields.problem("mode", f"expected one of {', '.join(FAULT_MODES)}, found {mode!r}")
        return None
    if family is None or mode is None:
        return None
    try:
        return Fault(
            family=family,
            mode=cast(FaultMode, mode),
            seconds=seconds,
            retry_after=retry_after,
            count=count,
            client_id=client_id,
            username=username,
            environment=environment,
            text_body=text_body,
            encoding=cast(EchoEncoding, encoding),
            path=path,
            field=changed,
            value=value if isinstance(value, str | int) else UNKNOWN_ENUM_VALUE,
        )
    except ValueError as error:
        fields.problem("mode", str(error))
        return None


class _Fields:
    """Typed access to one TOML table that records every problem instead of stopping."""

    def __init__(self, table: Mapping[str, object], path: str, problems: list[str]) -> None:
        self._table = table
        self._path = path
        self._problems = problems
        self._used: set[str] = set()

    def _at(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def __contains__(self, key: str) -> bool:
        return key in self._table

    def problem(self, key: str, message: str) -> None:
        self._problems.append(f"{self._at(key)}: {message}")

    def _get(self, key: str) -> object | None:
        self._used.add(key)
        return self._table.get(key)

    def _wrong(self, key: str, expected: str, value: object, *, secret: bool = False) -> None:
        self.problem(key, f"expected {expected}, found {_describe(value, secret=secret)}")

    def text(
        self,
        key: str,
        *,
        default: str | None = None,
        required: bool = False,
        secret: bool = False,
    ) -> str | None:
        value = self._get(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return default
        if not isinstance(value, str) or not value.strip():
            self._wrong(key, "a non-empty string", value, secret=secret)
            return default
        return value

    def texts(self, key: str) -> list[str]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self._wrong(key, "an array of strings", value)
            return []
        return [str(item) for item in value]

    def flag(self, key: str, default: bool) -> bool:
        found = self.optional_flag(key)
        return default if found is None else found

    def optional_flag(self, key: str) -> bool | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self._wrong(key, "true or false", value)
            return None
        return value

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        found = self.optional_integer(key, minimum=minimum)
        return default if found is None else found

    def optional_integer(self, key: str, *, minimum: int = 0) -> int | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self._wrong(key, f"an integer >= {minimum}", value)
            return None
        return value

    def number(self, key: str, default: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self._wrong(key, "a number >= 0", value)
            return default
        return float(value)

    def guid(self, key: str, *, required: bool = False) -> str | None:
        value = self.text(key, required=required)
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            self._wrong(key, "a GUID like 3f2c9a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f", value)
            return None

    def end_date(self, key: str, now: dt.datetime) -> dt.datetime | None:
        value = self._get(key)
        if value is None or value == "never":
            return None
        if isinstance(value, dt.datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        if value == "expired":
            return now - dt.timedelta(days=1)
        if isinstance(value, str) and (match := _OFFSET.match(value)):
            sign, amount, unit = match.groups()
            delta = dt.timedelta(**{_OFFSET_UNITS[unit]: int(amount)})
            return now + delta if sign == "+" else now - delta
        self._wrong(
            key,
            'a date, a datetime, "expired", "never" or an offset like "+30d" / "-2h"',
            value,
        )
        return None

    def table(self, key: str) -> _Fields | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self._wrong(key, "a table", value)
            return None
        return _Fields(value, self._at(key), self._problems)

    def tables(self, key: str) -> Iterator[_Fields]:
        value = self._get(key)
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self._wrong(key, "an array of tables ([[" + key + "]])", value)
            return
        for index, item in enumerate(value):
            yield _Fields(item, f"{self._at(key)}[{index}]", self._problems)

    def finish(self) -> None:
        """Report keys that no reader asked for (typos, unsupported settings)."""
        for key in sorted(set(self._table) - self._used):
            self.problem(key, "unknown key")


def _describe(value: object, *, secret: bool = False) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return "a string (value hidden)" if secret else f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"
