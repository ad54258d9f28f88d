"""Outcome classes of a probe, their severity, and the remedy each one suggests.

The class is what every later stage (store, check output, incidents) keys on. A class is
*definitive* when the identity provider or Dataverse answered that the identity cannot work;
*transient* when the monitor could not find out (network, throttling, service errors); *local*
when the problem is on the monitor's side (its clock, its trust store).
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
    MISCONFIGURED = "misconfigured"
    THROTTLED = "throttled"
    UNREACHABLE = "unreachable"
    SERVICE_ERROR = "service_error"
    TLS_ERROR = "tls_error"
    CLOCK_SKEW = "clock_skew"
    UNCLASSIFIED = "unclassified"


class Nature(enum.StrEnum):
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
    Outcome.MISCONFIGURED: OutcomeInfo(
        Nature.DEFINITIVE,
        Severity.CRITICAL,
        "the identity provider rejected the request as misconfigured",
        "Check the tenant ID, cloud, client ID and environment URL in the configuration and the "
        "app registration's settings (public client flows, API permissions).",
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
