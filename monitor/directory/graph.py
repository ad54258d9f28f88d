"""Microsoft Graph reads: app credentials, service principals, users, domains, SKUs.

Each read needs one Graph application permission of the observer (``docs/posture.md``,
"Directory reads"); a 403 makes only the facts that needed it "not observed". The credential in
use is found here, where the configured secret is at hand (:class:`ConfiguredCredential`): only
the verdict (``in_use``) leaves this module, never a hint.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from monitor.config.model import CertificateCredential
from monitor.directory.client import JsonReader, NotFound, NotObserved, malformed, read_guard
from monitor.model.observations import (
    AppCredentials,
    DomainPolicy,
    Licence,
    MatchMethod,
    RegisteredCredential,
    ServicePlan,
    ServicePrincipal,
    SubscribedSku,
    TenantInfo,
    UserAccount,
    UserLicences,
)
from monitor.secrets import Secret

APPLICATION_READ_ALL = "Application.Read.All"
USER_READ_ALL = "User.Read.All"
DOMAIN_READ_ALL = "Domain.Read.All"
ORGANIZATION_READ_ALL = "Organization.Read.All"

APPLICATION_SELECT = "id,appId,displayName,passwordCredentials,keyCredentials"
SERVICE_PRINCIPAL_SELECT = "id,appId,displayName,accountEnabled,passwordCredentials,keyCredentials"
USER_SELECT = (
    "id,userPrincipalName,displayName,accountEnabled,userType,lastPasswordChangeDateTime,"
    "passwordPolicies,onPremisesSyncEnabled,assignedLicenses"
)
DOMAIN_SELECT = (
    "id,isDefault,authenticationType,passwordValidityPeriodInDays,passwordNotificationWindowInDays"
)
SKU_SELECT = (
    "skuId,skuPartNumber,appliesTo,capabilityStatus,consumedUnits,prepaidUnits,servicePlans"
)
ORGANIZATION_SELECT = "id,createdDateTime"

_FRACTION = re.compile(r"\.(\d+)")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")

# Documented values of the enumerations the rules act on: anything else is an answer the monitor
# cannot read (Graph's evolvable enums add values, e.g. ``unknownFutureValue``).
CAPABILITY_STATUSES = frozenset({"Enabled", "Warning", "Suspended", "Deleted", "LockedOut"})
APPLIES_TO = frozenset({"User", "Company"})
AUTHENTICATION_TYPES = frozenset({"Managed", "Federated"})
KEY_USAGES = frozenset({"Verify", "Sign"})
SERVICE = "Graph"


def _need(body: Mapping[str, Any], name: str, what: str) -> Any:
    """Return ``body[name]``; raise "not observed" when Graph left the selected property out
    (a property it has no value for is ``null``, never missing)."""
    if name not in body:
        raise malformed(SERVICE, f"{what} without '{name}'")
    return body[name]


def _optional_bool(body: Mapping[str, Any], name: str, what: str) -> bool | None:
    value = _need(body, name, what)
    if value is not None and not isinstance(value, bool):
        raise malformed(SERVICE, f"{what} with '{name}' = {str(value)[:40]!r}")
    return value


def _choice(body: Mapping[str, Any], name: str, what: str, documented: frozenset[str]) -> str:
    """Return ``body[name]``, one of the *documented* values of an enumeration."""
    value = _need(body, name, what)
    if value not in documented:
        raise malformed(SERVICE, f"{what} with an unknown {name} {str(value)[:40]!r}")
    return str(value)


def _bool(body: Mapping[str, Any], name: str, what: str) -> bool:
    value = _optional_bool(body, name, what)
    if value is None:
        raise malformed(SERVICE, f"{what} with '{name}' = null")
    return value


def _time(body: Mapping[str, Any], name: str, what: str) -> datetime | None:
    value = _need(body, name, what)
    if value is None:
        return None
    parsed = parse_graph_time(value)
    if parsed is None:
        raise malformed(SERVICE, f"{what} with an unreadable '{name}'")
    return parsed


class GraphClient(JsonReader):
    """A :class:`JsonReader` for ``{graph_url}/v1.0`` that names missing permissions."""

    def forbidden_reason(self, code: str | None, message: str, permission: str | None) -> str:
        need = permission or "a Graph application permission"
        detail = f" {code}" if code else ""
        return f"the observer lacks the Graph application permission {need} (HTTP 403{detail})"


@dataclass(frozen=True)
class ConfiguredCredential:
    """What the configuration signs in with, for matching against registered credentials.

    Holds the secret itself (a :class:`Secret`, which never shows its value) only to compare its
    first three characters with Graph's ``hint``.
    """

    type: Literal["client_secret", "certificate"]
    secret: Secret | None = None
    thumbprints: tuple[str, ...] = ()  # upper-case hex, SHA-1 and SHA-256
    key_id: str | None = None
    fingerprint: str | None = None

    @classmethod
    def of(
        cls,
        *,
        secret: Secret | None,
        certificate: CertificateCredential | None,
        key_id: str | None = None,
        fingerprint: str | None = None,
    ) -> ConfiguredCredential:
        if certificate is not None:
            thumbprints = tuple(
                value.upper()
                for value in (certificate.thumbprint_sha1, certificate.thumbprint_sha256)
                if value
            )
            return cls(
                "certificate", thumbprints=thumbprints, key_id=key_id, fingerprint=fingerprint
            )
        return cls("client_secret", secret=secret, key_id=key_id, fingerprint=fingerprint)

    def matches(self, credential: RegisteredCredential, hint: str | None) -> bool:
        """A pinned key id decides; else a secret's first three characters are compared with
        Graph's *hint* (in constant time), a certificate's thumbprints with the registered one."""
        if self.key_id is not None:
            return credential.key_id.lower() == self.key_id.lower()
        if credential.type != self.type:
            return False
        if self.type == "certificate":
            return credential.thumbprint is not None and credential.thumbprint in self.thumbprints
        if self.secret is None or not hint:
            return False
        return hmac.compare_digest(self.secret.reveal()[:3].encode(), hint.encode())

    @property
    def method(self) -> MatchMethod:
        if self.key_id is not None:
            return "key_id"
        return "thumbprint" if self.type == "certificate" else "hint"


def parse_graph_time(value: object) -> datetime | None:
    """Return a Graph ``DateTimeOffset`` (``2025-06-10T12:00:00.1234567Z``) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def thumbprint_of(value: object) -> str | None:
    """Return a certificate's ``customKeyIdentifier`` as upper-case hex, or None.

    Graph shows it as the hex thumbprint; the property is binary, so a base64 form is accepted
    too. Only SHA-1 (20 bytes) and SHA-256 (32 bytes) sizes are thumbprints.
    """
    if not isinstance(value, str) or not value:
        return None
    if _HEX.match(value) and len(value) in (40, 64):
        return value.upper()
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex().upper() if len(raw) in (20, 32) else None


def _credentials(
    body: Mapping[str, Any],
    origin: Literal["application", "service_principal"],
    configured: ConfiguredCredential,
) -> list[RegisteredCredential]:
    found: list[RegisteredCredential] = []
    what = "the app registration" if origin == "application" else "the service principal"
    for kind, name in (
        ("client_secret", "passwordCredentials"),
        ("certificate", "keyCredentials"),
    ):
        items = _need(body, name, what)
        if not isinstance(items, list):
            raise malformed(SERVICE, f"{what} with '{name}' that is not a list")
        for item in items:
            if not isinstance(item, Mapping):
                raise malformed(SERVICE, f"{what} with an entry of '{name}' that is not an object")
            key_id = item.get("keyId")
            if not isinstance(key_id, str) or not key_id:
                raise malformed(SERVICE, f"{what} with an entry of '{name}' without its keyId")
            usage = item.get("usage")
            if kind == "certificate" and usage is not None and usage not in KEY_USAGES:
                raise malformed(SERVICE, f"{what} with a key of unknown usage {str(usage)[:40]!r}")
            if kind == "certificate" and usage == "Sign":
                continue  # a signing key (SAML, token encryption) is no client credential
            display_name = item.get("displayName")
            credential = RegisteredCredential(
                key_id=key_id.lower(),
                type="certificate" if kind == "certificate" else "client_secret",
                display_name=display_name if isinstance(display_name, str) else "",
                start=parse_graph_time(item.get("startDateTime")),
                end=parse_graph_time(item.get("endDateTime")),
                in_use=False,
                origin=origin,
                thumbprint=thumbprint_of(item.get("customKeyIdentifier"))
                if kind == "certificate"
                else None,
            )
            hint = item.get("hint") if kind == "client_secret" else None
            in_use = configured.matches(credential, hint if isinstance(hint, str) else None)
            found.append(replace(credential, in_use=in_use))
    return found


class GraphDirectory:
    """The Graph reads of one tenant's directory pass."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client

    def _object(self, path: str, select: str, permission: str) -> dict[str, Any] | None:
        """Return the *select*ed properties of the object at *path*, or None when Graph says
        there is no such object."""
        try:
            return self.client.get(path, {"$select": select}, permission=permission)
        except NotFound:
            return None

    def _items(
        self, path: str, select: str, permission: str, key: str, noun: str
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Yield each item of the collection at *path* with its id (*key*, lower-cased) and the
        words reasons name it by ("SKU <id>")."""
        for item in self.client.iterate(path, {"$select": select}, permission=permission, key=key):
            name = str(item[key]).lower()
            yield name, f"{noun} {name}", item

    @read_guard("the tenant's SKUs (subscribedSkus)")
    def subscribed_skus(self) -> list[SubscribedSku]:
        """Return the tenant's SKUs. Raise :class:`NotObserved`."""
        items = self._items("subscribedSkus", SKU_SELECT, ORGANIZATION_READ_ALL, "skuId", "SKU")
        return [_subscribed_sku(*item) for item in items]

    @read_guard("the tenant's organization (creation date)")
    def organization(self) -> TenantInfo:
        """Return when the tenant was created. Raise :class:`NotObserved`."""
        items = self.client.get_all(
            "organization",
            {"$select": ORGANIZATION_SELECT},
            permission=ORGANIZATION_READ_ALL,
            key="id",
        )
        if len(items) != 1:
            raise malformed(SERVICE, f"{len(items)} organizations instead of one")
        (item,) = items
        return TenantInfo(
            tenant_id=str(item["id"]).lower(),
            created=_time(item, "createdDateTime", "the organization"),
        )

    @read_guard("the tenant's domains (password policy)")
    def domains(self) -> list[DomainPolicy]:
        """Return every domain's password policy. Raise :class:`NotObserved`."""
        items = self._items("domains", DOMAIN_SELECT, DOMAIN_READ_ALL, "id", "domain")
        return [_domain_policy(*item) for item in items]

    @read_guard("the service principal")
    def service_principal(self, client_id: str) -> ServicePrincipal:
        """Return the app's service principal in this tenant. Raise :class:`NotObserved`."""
        body = self._object(
            f"servicePrincipals(appId='{client_id}')",
            "id,appId,displayName,accountEnabled",
            APPLICATION_READ_ALL,
        )
        if body is None:
            return ServicePrincipal(found=False)
        enabled = _bool(body, "accountEnabled", "the service principal")
        name = body.get("displayName")
        object_id = body.get("id")
        return ServicePrincipal(
            found=True,
            account_enabled=enabled,
            display_name=name if isinstance(name, str) else "",
            object_id=object_id if isinstance(object_id, str) else None,
        )

    @read_guard("the app registration's credentials")
    def app_credentials(self, client_id: str, configured: ConfiguredCredential) -> AppCredentials:
        """Return the credentials of the app registration (and its SP in this tenant), each
        marked whether it is the configured one.

        Raise :class:`NotObserved` (``elsewhere``) when the registration is not in this tenant.
        """
        application = self._object(
            f"applications(appId='{client_id}')", APPLICATION_SELECT, APPLICATION_READ_ALL
        )
        if application is None:
            raise NotObserved(
                "elsewhere",
                f"the app registration {client_id} is not in this tenant's directory (it may be "
                "registered in another tenant): declare its expiry with credential_expires",
            )
        credentials = _credentials(application, "application", configured)
        # Credentials can also be added to the service principal itself (rare, but they sign in);
        # without a service principal in this tenant there are none of its own.
        principal = self._object(
            f"servicePrincipals(appId='{client_id}')",
            SERVICE_PRINCIPAL_SELECT,
            APPLICATION_READ_ALL,
        )
        if principal is not None:
            credentials += _credentials(principal, "service_principal", configured)
        name = application.get("displayName")
        return AppCredentials(
            client_id=client_id,
            display_name=name if isinstance(name, str) else "",
            configured=configured.type,
            matched_by=configured.method if any(c.in_use for c in credentials) else "none",
            credentials=tuple(credentials),
            configured_fingerprint=configured.fingerprint,
        )

    @read_guard("the user account")
    def user(
        self, user_principal_name: str, skus: Sequence[SubscribedSku] | None
    ) -> tuple[UserAccount, UserLicences | NotObserved]:
        """Return the user's account and licences (or why the licences were not observed).

        *skus* (None: not observed) name the licences. Raise :class:`NotObserved` when the user
        cannot be read at all.
        """
        body = self._object(
            f"users/{urllib.parse.quote(user_principal_name, safe='@')}", USER_SELECT, USER_READ_ALL
        )
        return parse_user(body, user_principal_name, skus)


def parse_user(
    body: Mapping[str, Any] | None, user_principal_name: str, skus: Sequence[SubscribedSku] | None
) -> tuple[UserAccount, UserLicences | NotObserved]:
    """Return the account and licences a Graph ``user`` object (its :data:`USER_SELECT`ed
    properties; None: no such user) shows. Raise :class:`NotObserved` for an unreadable one."""
    if body is None:
        return UserAccount(found=False, user_principal_name=user_principal_name), NotObserved(
            "not_read", f"no user {user_principal_name} in the directory"
        )
    what = f"user {user_principal_name}"
    object_id = _need(body, "id", what)
    if not isinstance(object_id, str) or not object_id:
        raise malformed(SERVICE, f"{what} without its id")
    policies = _need(body, "passwordPolicies", what)
    if policies is not None and not isinstance(policies, str):
        raise malformed(SERVICE, f"{what} with unreadable 'passwordPolicies'")
    upn = body.get("userPrincipalName")
    name = body.get("displayName")
    user_type = body.get("userType")
    account = UserAccount(
        found=True,
        user_principal_name=(upn if isinstance(upn, str) else user_principal_name).lower(),
        object_id=object_id,
        display_name=name if isinstance(name, str) else "",
        account_enabled=_bool(body, "accountEnabled", what),
        user_type=user_type if isinstance(user_type, str) else None,
        last_password_change=_time(body, "lastPasswordChangeDateTime", what),
        password_policies=tuple(
            part.strip() for part in policies.split(",") if part.strip() and part != "None"
        )
        if isinstance(policies, str)
        else (),
        synced_from_on_premises=_optional_bool(body, "onPremisesSyncEnabled", what),
    )
    assigned = body.get("assignedLicenses")
    if not isinstance(assigned, list):
        return account, malformed(SERVICE, f"{what} without 'assignedLicenses'")
    names = {sku.sku_id: sku.part_number for sku in skus or ()}
    licences = []
    for item in assigned:
        sku_id = item.get("skuId") if isinstance(item, Mapping) else None
        if not isinstance(sku_id, str) or not sku_id:
            return account, malformed(SERVICE, f"{what} with a licence without its skuId")
        licences.append(Licence(sku_id.lower(), names.get(sku_id.lower())))
    return account, UserLicences(tuple(licences))


def _subscribed_sku(sku_id: str, what: str, item: Mapping[str, Any]) -> SubscribedSku:
    units = _need(item, "prepaidUnits", what)
    if not isinstance(units, Mapping):
        raise malformed(SERVICE, f"{what} with 'prepaidUnits' that is not an object")
    part = _need(item, "skuPartNumber", what)
    status = _choice(item, "capabilityStatus", what, CAPABILITY_STATUSES)
    applies_to = _choice(item, "appliesTo", what, APPLIES_TO)
    return SubscribedSku(
        sku_id=sku_id,
        part_number=part if isinstance(part, str) and part else sku_id,
        enabled=_count(units.get("enabled")),
        consumed=_count(_need(item, "consumedUnits", what)),
        suspended=_count(units.get("suspended")),
        warning=_count(units.get("warning")),
        capability_status=status,
        applies_to=applies_to,
        service_plans=_service_plans(_need(item, "servicePlans", what), what),
    )


def _domain_policy(name: str, what: str, item: Mapping[str, Any]) -> DomainPolicy:
    validity = _need(item, "passwordValidityPeriodInDays", what)
    notification = _need(item, "passwordNotificationWindowInDays", what)
    for value, field in (
        (validity, "passwordValidityPeriodInDays"),
        (notification, "passwordNotificationWindowInDays"),
    ):
        if value is not None and _optional_count(value) is None:
            raise malformed(SERVICE, f"{what} with '{field}' = {str(value)[:40]!r}")
    authentication = _choice(item, "authenticationType", what, AUTHENTICATION_TYPES)
    return DomainPolicy(
        domain=name,
        password_validity_days=_optional_count(validity),
        password_notification_days=_optional_count(notification),
        is_default=_need(item, "isDefault", what) is True,
        authentication_type=authentication,
    )


def _service_plans(value: object, what: str) -> tuple[ServicePlan, ...]:
    if not isinstance(value, list):
        raise malformed(SERVICE, f"{what} with 'servicePlans' that is not a list")
    plans = []
    for item in value:
        name = item.get("servicePlanName") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not name:
            raise malformed(SERVICE, f"{what} with a service plan without its servicePlanName")
        status = item.get("provisioningStatus")
        applies_to = item.get("appliesTo")
        plans.append(
            ServicePlan(
                name=name,
                status=status if isinstance(status, str) else "",
                applies_to=applies_to if isinstance(applies_to, str) else "",
            )
        )
    return tuple(plans)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _optional_count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
