"""Outcome classes of a probe, their severity, and the remedy each one suggests.

The class is what every later stage (store, check output, incidents) keys on; its
:class:`Nature` says whether the answer is about the identity or not. :func:`describe` returns
the summary and remedy for a result, refined by its AADSTS code and credential type (an expired
certificate is renewed, not "put the current secret"). The codes and their classes are listed in
``docs/platform.md``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.IntEnum):
    """Nagios plugin states; the numeric value is the plugin exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def worst(severities: list[Severity]) -> Severity:
    """Return the state a Nagios check reports for several results.

    CRITICAL beats WARNING beats UNKNOWN beats OK (a definite problem outranks "could not tell").
    """
    order = [Severity.CRITICAL, Severity.WARNING, Severity.UNKNOWN]
    for severity in order:
        if severity in severities:
            return severity
    return Severity.OK


class Outcome(enum.StrEnum):
    OK = "ok"
    CREDENTIAL_INVALID = "credential_invalid"
    CREDENTIAL_EXPIRED = "credential_expired"
    PASSWORD_EXPIRED = "password_expired"  # noqa: S105 (a class name, not a password)
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_LOCKED = "account_locked"
    IDENTITY_NOT_FOUND = "identity_not_found"
    POLICY_BLOCKED = "policy_blocked"
    NOT_IN_ENVIRONMENT = "not_in_environment"
    NO_ROLE = "no_role"
    MISSING_PRIVILEGE = "missing_privilege"
    NO_LICENCE = "no_licence"
    RESOURCE_DISABLED = "resource_disabled"
    MISCONFIGURED = "misconfigured"
    MAINTENANCE = "maintenance"
    THROTTLED = "throttled"
    UNREACHABLE = "unreachable"
    SERVICE_ERROR = "service_error"
    TLS_ERROR = "tls_error"
    CLOCK_SKEW = "clock_skew"
    TENANT_RESTRICTED = "tenant_restricted"
    UNCLASSIFIED = "unclassified"


class Nature(enum.StrEnum):
    """*definitive*: the identity provider or Dataverse answered that the identity cannot work;
    *transient*: the monitor could not find out (network, throttling, service errors, an
    environment in planned maintenance); *local*: the problem is on the monitor's side (its
    clock, its trust store, a proxy on its network path)."""

    HEALTHY = "healthy"
    DEFINITIVE = "definitive"
    TRANSIENT = "transient"
    LOCAL = "local"


@dataclass(frozen=True)
class OutcomeInfo:
    nature: Nature
    severity: Severity
    summary: str
    remedy: str


OUTCOMES: dict[Outcome, OutcomeInfo] = {
    Outcome.OK: OutcomeInfo(
        Nature.HEALTHY, Severity.OK, "signed in and reached Dataverse", "Nothing to do."
    ),
    Outcome.CREDENTIAL_INVALID: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "the credential was rejected",
        "Put the current secret, certificate or password in the integration and in the monitor's "
        "secret store; if it was rotated, update both. For a secret, use the secret value, not its "
        "ID.",
    ),
    Outcome.CREDENTIAL_EXPIRED: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "the client secret or certificate has expired",
        "Add a new client secret or certificate to the app registration (Entra ID > App "
        "registrations > Certificates & secrets), deploy it to the integration, then remove the "
        "expired one.",
    ),
    Outcome.PASSWORD_EXPIRED: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "the account's password has expired or was changed",
        "Set a new password for the account, update the integration and the monitor's secret; "
        "consider moving the integration to an application user.",
    ),
    Outcome.ACCOUNT_DISABLED: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "the account or application is disabled",
        "Re-enable the user or service principal in Entra ID (and the user in the Dataverse "
        "environment), or move the integration to an active identity.",
    ),
    Outcome.ACCOUNT_LOCKED: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "the account is locked (too many failed sign-ins or a blocked source address)",
        "Find what is sending wrong passwords (an integration with a stale password), fix it, "
        "and let the lockout expire or have an admin unlock the account. The monitor pauses "
        "sign-ins for this account until then.",
    ),
    Outcome.IDENTITY_NOT_FOUND: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "the user or application does not exist in this tenant",
        "Check the client ID / username and tenant in the configuration; the app registration "
        "or user may have been deleted.",
    ),
    Outcome.POLICY_BLOCKED: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "sign-in was blocked by policy (MFA, Conditional Access, consent or assignment)",
        "Exclude the integration identity from the blocking Conditional Access / MFA policy, grant "
        "admin consent, or move the integration to an application user.",
    ),
    Outcome.NOT_IN_ENVIRONMENT: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "signed in, but Dataverse does not accept the identity in this environment",
        "Add the identity to the environment as a user (application users: Power Platform admin "
        "center > Environment > Settings > Users + permissions > Application users) and give it a "
        "security role; check the environment's security group.",
    ),
    Outcome.NO_ROLE: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "signed in, but the identity holds no security role in this environment",
        "Assign a least-privilege security role (only the tables the integration uses) to the "
        "identity's user in this environment, directly or through a team; Dataverse refuses "
        "every request of a user without one.",
    ),
    Outcome.MISSING_PRIVILEGE: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "signed in, but the identity's security roles lack a privilege the call needs",
        "Add the privilege the message names (prv...) to the identity's security role in this "
        "environment, at the depth the integration needs.",
    ),
    Outcome.NO_LICENCE: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "signed in, but Dataverse refuses the user: it has no licence",
        "Assign a Dynamics 365 / Power Apps licence to the user, or make it a non-interactive "
        "user (Access mode: Non-interactive), or move the integration to an application user, "
        "which needs no licence.",
    ),
    Outcome.RESOURCE_DISABLED: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "Dataverse itself is disabled for the tenant (its service principal is disabled or the "
        "subscription lapsed); not the identity's own account",
        "Check the tenant's Dynamics 365 / Power Apps subscription (Microsoft 365 admin center > "
        "Billing > Your products) and that the enterprise application Dynamics CRM "
        "(00000007-0000-0000-c000-000000000000) is enabled; every identity of the tenant is "
        "affected.",
    ),
    Outcome.MISCONFIGURED: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "the identity provider rejected the request as misconfigured",
        "Check the tenant ID, cloud, client ID and environment URL in the configuration and the "
        "app registration's settings (public client flows, API permissions).",
    ),
    Outcome.MAINTENANCE: OutcomeInfo(
        Nature.TRANSIENT,
        Severity.WARNING,
        "the environment is in administration mode (planned maintenance): only System "
        "Administrators and System Customizers can sign in",
        "Nothing to do for the credential. Ask the environment's admins when administration "
        "mode ends (Power Platform admin center > Environments > the environment > Edit > "
        "Administration mode).",
    ),
    Outcome.THROTTLED: OutcomeInfo(
        Nature.TRANSIENT,
        Severity.UNKNOWN,
        "throttled; could not verify the credential",
        "Nothing to do unless it persists; if it does, the identity is close to its API limits.",
    ),
    Outcome.UNREACHABLE: OutcomeInfo(
        Nature.TRANSIENT,
        Severity.UNKNOWN,
        "could not reach the service; could not verify the credential",
        "Check the monitor host's network, proxy and DNS; the credential itself was not judged.",
    ),
    Outcome.SERVICE_ERROR: OutcomeInfo(
        Nature.TRANSIENT,
        Severity.UNKNOWN,
        "the service answered with an error or an unreadable response",
        "Usually a service incident; check the Microsoft 365 / Power Platform service health page.",
    ),
    Outcome.TLS_ERROR: OutcomeInfo(
        Nature.LOCAL,
        Severity.WARNING,
        "the server's TLS certificate is not trusted",
        "If a proxy inspects TLS, set network.ca_bundle to its CA; otherwise treat it as an "
        "interception attempt.",
    ),
    Outcome.CLOCK_SKEW: OutcomeInfo(
        Nature.LOCAL,
        Severity.WARNING,
        "the client assertion was outside its valid time range",
        "Check NTP on the monitor host (timedatectl); the certificate itself may be fine.",
    ),
    Outcome.TENANT_RESTRICTED: OutcomeInfo(
        Nature.LOCAL,
        Severity.WARNING,
        "a proxy on the monitor's network path adds tenant restrictions that do not allow this "
        "tenant; the credential was not judged",
        "Add the tenant to the proxy's tenant restrictions (Restrict-Access-To-Tenants) or "
        "exempt the monitor host; if the integration uses the same proxy, it is blocked too.",
    ),
    Outcome.UNCLASSIFIED: OutcomeInfo(
        Nature.LOCAL,
        Severity.WARNING,
        "failed with an error the monitor does not recognise",
        "Look up the error code and correlation ID (https://login.microsoftonline.com/error) and "
        "report it so it can be classified.",
    ),
}


def info(outcome: Outcome) -> OutcomeInfo:
    return OUTCOMES[outcome]


# Words for codes whose class alone says too little (summary, remedy); None keeps the class's.
_CODE_WORDS: dict[int, tuple[str | None, str | None]] = {
    7000229: (
        "the app registration exists, but its enterprise application (service principal) was "
        "deleted from the tenant",
        "Re-create the enterprise application: an admin consents to the app in this tenant "
        "(Entra admin center > App registrations > the app > API permissions > Grant admin "
        "consent) or runs `az ad sp create --id <client id>`.",
    ),
    700016: (
        "the app registration was not found in this tenant",
        "Check client_id and the tenant in the configuration; the app registration may have "
        "been deleted, or belongs to another tenant that never consented to it.",
    ),
    650052: (
        "the tenant has no subscription to (or has disabled) the service the token is for",
        None,
    ),
    650059: (
        "a single-tenant app registration was used in another tenant",
        "Sign in to the tenant the app is registered in, or make the app registration "
        "multi-tenant (signInAudience) and consent to it in this tenant.",
    ),
    5000224: (
        "the tenant is not available (deleted or deprovisioned)",
        "Check tenant_id; if it is right, the tenant's subscriptions have lapsed and it was "
        "deprovisioned.",
    ),
    80012: (
        "the account signed in outside the logon hours on-premises AD allows",
        "Allow the service account to log on at all hours in Active Directory, or move the "
        "integration to an application user.",
    ),
    90072: (
        "the account does not exist in this tenant (or its synchronised source anchor does not "
        "match on-premises)",
        None,
    ),
}

_CREDENTIAL_REMEDIES: dict[tuple[Outcome, str], str] = {
    (Outcome.CREDENTIAL_EXPIRED, "certificate"): (
        "Renew the certificate: create a new one, upload its public certificate to the app "
        "registration (Entra ID > App registrations > Certificates & secrets), deploy it with "
        "its private key to the integration and the monitor, then remove the expired one."
    ),
    (Outcome.CREDENTIAL_EXPIRED, "client_secret"): (
        "Add a new client secret to the app registration (Entra ID > App registrations > "
        "Certificates & secrets), put its value into the integration and the monitor's secret "
        "store, then delete the expired one."
    ),
    (Outcome.CREDENTIAL_INVALID, "certificate"): (
        "The certificate the integration signs with is not (or no longer) registered on the app "
        "registration: upload it again (Certificates & secrets), or configure the certificate "
        "that is registered, in the integration and in the monitor."
    ),
    (Outcome.CREDENTIAL_INVALID, "client_secret"): (
        "Put the current client secret value (not its ID) into the integration and the "
        "monitor's secret store; if it was rotated or deleted, add a new one and update both."
    ),
    (Outcome.CREDENTIAL_INVALID, "password"): (
        "Put the current password into the integration and the monitor's secret store; the "
        "monitor will not try the rejected password again."
    ),
}


def describe(
    outcome: Outcome, *, aadsts_code: int | None = None, credential_type: str | None = None
) -> tuple[str, str]:
    """Return (summary, remedy) of *outcome*, refined by the AADSTS code and credential type."""
    base = OUTCOMES[outcome]
    summary, remedy = base.summary, base.remedy
    if outcome is not Outcome.OK and aadsts_code in _CODE_WORDS:
        better_summary, better_remedy = _CODE_WORDS[aadsts_code]
        summary = better_summary or summary
        remedy = better_remedy or remedy
    elif credential_type is not None:
        remedy = _CREDENTIAL_REMEDIES.get((outcome, credential_type), remedy)
    return summary, remedy
