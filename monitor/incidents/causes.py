"""Root causes: which findings are evidence of the same problem (pure, no I/O).

An incident is keyed by its cause, never by the finding kind that noticed it: an expired client
secret is one incident whether Graph's end date, the certificate file or a failing sign-in
noticed it. :func:`cause_of` names the cause of one finding; :func:`group_by_cause` folds
consequences into the cause that explains them (a disabled account explains its password's
expiry and its facts that cannot be read; a tenant-wide outage or 429 storm explains each
identity's) and :func:`incident_finding` turns the evidence of one cause into the one finding
the incident state machine sees. docs/notifications.md, "One incident per root cause".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, assert_never

from monitor.findings.probes import COVERED_BY, RECOVERING
from monitor.model.findings import Finding, FindingKind, Level

if TYPE_CHECKING:
    from monitor.config.model import Config

CAUSE_PREFIX = "cause:"
EVIDENCE = "evidence"
STAGE = "stage"

# Sign-in answers that say the client application lacks consent: every identity signing in
# through that client fails together, so the client is the cause.
CONSENT_CODES = frozenset({65001, 65004, 65005, 90094})
# Not-observed causes that say something about the observer itself (all of one observer's
# missing permissions are one problem), and those a tenant-wide storm explains.
OBSERVER_CAUSES = ("permission", "sign_in", "no_observer", "elsewhere", "unsupported")


@dataclass(frozen=True)
class Cause:
    """One root cause: its key (``cause:<kind>:<scope>``), kind and scope."""

    kind: str
    tenant: str
    identity: str | None = None
    environment: str | None = None
    subject: str = ""

    @property
    def key(self) -> str:
        scope = "/".join(
            part for part in (self.tenant, self.identity, self.environment, self.subject) if part
        )
        return f"{CAUSE_PREFIX}{self.kind}:{scope}"


def is_cause_key(key: str) -> bool:
    return key.startswith(CAUSE_PREFIX)


# Each kind of cause in a few words, for lists of incidents.
CAUSE_WORDS = {
    "credential": "its secret, certificate or password",
    "account": "its account",
    "access": "its access to the environment",
    "privilege": "more privilege than it needs",
    "advice": "the way it signs in",
    "signin": "sign-ins cannot be verified",
    "usage": "API usage",
    "throttling": "throttling (HTTP 429) across the tenant",
    "client": "the client application it signs in through",
    "observer": "the monitor's observer",
    "directory": "directory reads",
    "licences": "licences",
    "capacity": "the non-interactive user limit",
    "dataverse": "Dataverse disabled for the tenant",
    "maintenance": "environment maintenance",
}


def cause_kind(key: str) -> str | None:
    """Return the kind of cause an incident key names (``credential``, ``account``...), or
    None for a key of another form."""
    if not is_cause_key(key):
        return None
    return key[len(CAUSE_PREFIX) :].split(":", 1)[0]


def _outcome(finding: Finding) -> str | None:
    value = finding.details.get("outcome")
    return value if isinstance(value, str) else None


def cause_of(finding: Finding, config: Config | None = None) -> Cause:
    """Return the root cause *finding* is evidence of (before folding, see
    :func:`group_by_cause`)."""
    kind, tenant, identity = finding.kind, finding.tenant, finding.identity
    outcome = _outcome(finding)
    if kind is FindingKind.CREDENTIAL_BROKEN:
        code = finding.details.get("aadsts_code")
        if outcome == "policy_blocked" and code in CONSENT_CODES and identity is not None:
            configured = config.identities.get(identity) if config is not None else None
            client = configured.client_id if configured is not None else identity
            return Cause("client", tenant, subject=client)
        if outcome in ("credential_invalid", "credential_expired", "password_expired"):
            return Cause("credential", tenant, identity)
        return Cause("account", tenant, identity)
    if kind in (FindingKind.CREDENTIAL_EXPIRING, FindingKind.PASSWORD_EXPIRING):
        if identity is None:
            return Cause("observer", tenant)  # the observer's own secret or certificate
        return Cause("credential", tenant, identity)
    if kind in (FindingKind.ACCOUNT_DISABLED, FindingKind.ACCOUNT_LOCKED):
        return Cause("account", tenant, identity)
    if kind is FindingKind.LICENCE:
        if outcome == "resource_disabled":
            return Cause("dataverse", tenant)
        if identity is None:
            return Cause("licences", tenant)
        return Cause("account", tenant, identity)
    if kind in (FindingKind.NOT_IN_ENVIRONMENT, FindingKind.SECURITY_ROLE):
        return Cause("access", tenant, identity)
    if kind is FindingKind.OVER_PRIVILEGED:
        return Cause("privilege", tenant, identity)
    if kind is FindingKind.MAINTENANCE:
        return Cause("maintenance", tenant, environment=finding.environment)
    if kind is FindingKind.CAPACITY:
        return Cause("capacity", tenant, environment=finding.environment)
    if kind is FindingKind.IDENTITY_TYPE:
        return Cause("advice", tenant, identity)
    if kind is FindingKind.CANNOT_VERIFY:
        return Cause("signin", tenant, identity)
    if kind is FindingKind.USAGE:
        return Cause("usage", tenant, identity)
    if kind is FindingKind.NOT_OBSERVED:
        if _not_observed_cause(finding) in OBSERVER_CAUSES:
            return Cause("observer", tenant)
        return Cause("directory", tenant)
    assert_never(kind)


def _not_observed_cause(finding: Finding) -> str:
    """Return why the facts of a "not observed" finding could not be read (``permission``,
    ``unreachable``...)."""
    cause = finding.details.get("cause")
    return cause if isinstance(cause, str) else ""


def _live(finding: Finding) -> bool:
    return finding.details.get(RECOVERING) is not True


def _throttled(finding: Finding) -> bool:
    """Whether *finding* is evidence of HTTP 429 answers: a usage finding about throttling, a
    "cannot verify" whose failures were throttled answers, or facts a throttled read missed."""
    if finding.kind is FindingKind.USAGE:
        return finding.key.endswith(":throttled")
    if finding.kind is FindingKind.CANNOT_VERIFY:
        outcomes = finding.details.get("outcomes")
        if isinstance(outcomes, list) and outcomes:
            return set(outcomes) == {"throttled"}
        return _outcome(finding) == "throttled"
    if finding.kind is FindingKind.NOT_OBSERVED:
        return _not_observed_cause(finding) == "throttled"
    return False


def _policy_blocked(finding: Finding) -> bool:
    """Whether *finding* is a live sign-in refused by a policy (MFA, Conditional Access), not
    for a missing consent."""
    return (
        finding.kind is FindingKind.CREDENTIAL_BROKEN
        and _outcome(finding) == "policy_blocked"
        and finding.details.get("aadsts_code") not in CONSENT_CODES
        and _live(finding)
    )


def _password_sign_in_advice(finding: Finding) -> bool:
    return finding.kind is FindingKind.IDENTITY_TYPE and finding.key.endswith(":password-sign-in")


def group_by_cause(
    findings: Sequence[Finding], config: Config | None = None
) -> dict[Cause, list[Finding]]:
    """Return the findings grouped by root cause, consequences folded into what explains them:

    * a live problem of an identity's account (disabled, deleted, unlicensed, locked) explains
      every other finding about that identity except advice and over-privilege; a sign-in
      refused by MFA or Conditional Access explains the advice against password sign-in;
    * a tenant that cannot be verified as a whole explains each identity's "cannot verify";
    * two or more identities of a tenant throttled (HTTP 429), or a whole tenant that cannot be
      verified because of 429 answers, are one tenant-wide storm, which also explains the
      directory reads it throttled;
    * every missing permission of one observer is one problem.
    """
    causes = {index: cause_of(finding, config) for index, finding in enumerate(findings)}
    live = {causes[i] for i, finding in enumerate(findings) if _live(finding)}
    blocked = {(f.tenant, f.identity) for f in findings if _policy_blocked(f)}
    throttled_identities: dict[str, set[str]] = defaultdict(set)
    storms: set[str] = set()
    for finding in findings:
        if not (_throttled(finding) and _live(finding)):
            continue
        if finding.identity is not None and finding.kind is not FindingKind.NOT_OBSERVED:
            throttled_identities[finding.tenant].add(finding.identity)
        elif finding.kind is FindingKind.CANNOT_VERIFY:
            storms.add(finding.tenant)  # every identity of the tenant throttled
    storms |= {tenant for tenant, names in throttled_identities.items() if len(names) >= 2}
    grouped: dict[Cause, list[Finding]] = defaultdict(list)
    for index, finding in enumerate(findings):
        cause = causes[index]
        account = Cause("account", finding.tenant, finding.identity)
        if (
            finding.identity is not None
            and cause.kind not in ("account", "advice", "privilege", "client")
            and account in live
        ) or (_password_sign_in_advice(finding) and (finding.tenant, finding.identity) in blocked):
            cause = account
        elif finding.tenant in storms and _throttled(finding):
            cause = Cause("throttling", finding.tenant)
        elif cause.kind == "signin" and finding.details.get(COVERED_BY):
            tenant_wide = Cause("signin", finding.tenant)
            if tenant_wide in live:
                cause = tenant_wide
        grouped[cause].append(finding)
    return dict(grouped)


def _stage(finding: Finding, now: datetime) -> int:
    """How far along a problem is: 0 ahead of its deadline, 1 past it (expired, broken since),
    2 failing sign-ins or checks now (probe evidence)."""
    if finding.source == "probe" and finding.level is Level.CRITICAL and _live(finding):
        return 2
    if finding.deadline is not None and finding.deadline <= now:
        return 1
    return 0


def _primary(evidence: Sequence[Finding], now: datetime) -> Finding:
    """The finding that speaks for the incident: the worst, live, furthest along, soonest."""
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return min(
        evidence,
        key=lambda f: (
            -f.level.rank,
            not _live(f),
            -_stage(f, now),
            f.deadline or far,
            f.key,
        ),
    )


def _evidence_item(finding: Finding) -> dict[str, object]:
    return {
        "key": finding.key,
        "kind": finding.kind.value,
        "level": finding.level.value,
        "source": finding.source,
        "identity": finding.identity,
        "environment": finding.environment,
        "subject": finding.subject,
        "summary": finding.summary,
        "deadline": finding.deadline.isoformat() if finding.deadline else None,
        "observed_at": finding.observed_at.isoformat(),
    }


def _title(cause: Cause, evidence: Sequence[Finding], primary: Finding, now: datetime) -> str:
    """The incident's title: the cause in words, then what else the evidence says."""
    others = [
        finding
        for finding in sorted(evidence, key=lambda f: (_stage(f, now), f.key))
        if finding is not primary and finding.kind is not primary.kind and _live(finding)
    ]
    parts = [primary.summary]
    for finding in others[:2]:
        if finding.summary not in parts:
            parts.append(finding.summary)
    identities = sorted({f.identity for f in evidence if f.identity})
    if cause.identity is None and len(identities) > 1:
        parts.append(f"affects {', '.join(identities[:6])}" + ("…" if len(identities) > 6 else ""))
    return "; ".join(parts)


def incident_finding(cause: Cause, evidence: Sequence[Finding], now: datetime) -> Finding:
    """Return the one finding the incident of *cause* follows: keyed by the cause, at the
    highest level of its evidence, with the soonest deadline, the primary evidence's words and
    remedy, and every piece of evidence (with its source and time) in ``details``."""
    primary = _primary(evidence, now)
    deadlines = [f.deadline for f in evidence if f.deadline is not None]
    live = [f for f in evidence if _live(f)]
    level = max((f.level for f in (live or evidence)), key=lambda value: value.rank)
    identities = sorted({f.identity for f in evidence if f.identity})
    environments = {f.environment for f in evidence}
    details: dict[str, object] = {
        **dict(primary.details),
        EVIDENCE: [_evidence_item(f) for f in sorted(evidence, key=lambda f: f.key)],
        STAGE: max(_stage(f, now) for f in evidence),
        "identities": identities,
        RECOVERING: not live,
    }
    details.pop(COVERED_BY, None)
    return Finding.create(
        primary.kind,
        level,
        key=cause.key,
        tenant=cause.tenant,
        identity=cause.identity,
        environment=environments.pop() if len(environments) == 1 else None,
        subject=primary.subject,
        summary=_title(cause, evidence, primary, now),
        remedy=primary.remedy,
        observed_at=max(f.observed_at for f in evidence),
        source=primary.source,
        deadline=min(deadlines) if deadlines else None,
        details=details,
    )


@dataclass(frozen=True)
class Grouping:
    """The findings of one evaluation grouped by root cause: ``findings`` holds one finding
    per cause (what its incident follows); ``homes`` maps each finding's key to the cause key
    whose incident holds it, ``own`` to the cause it names by itself (before folding)."""

    findings: list[Finding]
    homes: dict[str, str]
    own: dict[str, str]


def group_findings(
    findings: Sequence[Finding], now: datetime, config: Config | None = None
) -> Grouping:
    """Return *findings* grouped by root cause (see :func:`group_by_cause`)."""
    groups = group_by_cause(findings, config)
    return Grouping(
        findings=[incident_finding(cause, evidence, now) for cause, evidence in groups.items()],
        homes={f.key: cause.key for cause, evidence in groups.items() for f in evidence},
        own={f.key: cause_of(f, config).key for f in findings},
    )


def incident_findings(
    findings: Sequence[Finding], now: datetime, config: Config | None = None
) -> list[Finding]:
    """Return one finding per root cause of *findings* (see :func:`group_by_cause`)."""
    return group_findings(findings, now, config).findings


def evidence_keys(details: Mapping[str, object]) -> list[str]:
    """Return the keys of the findings an incident (its ``details``) holds as evidence."""
    items = details.get(EVIDENCE)
    if not isinstance(items, list):
        return []
    return [
        item["key"]
        for item in items
        if isinstance(item, Mapping) and isinstance(item.get("key"), str)
    ]
