"""Findings from stored probe state: what a run of probe outcomes means, with flap damping.

Pure rules over :class:`~monitor.model.probes.IdentityState` (outcome, consecutive counters),
:class:`~monitor.model.incidents.ProbeHistory` (when the run of failures began, what a recovery
came from), the ``[alerts]`` thresholds and ``now``: a definitive outcome is critical at once, a
transient one a ``cannot_verify`` warning only once it lasted, and a finding stays until enough
successes in a row (``docs/posture.md``, "Findings from probes").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.model.findings import Finding, FindingKind, Level
from monitor.model.outcomes import Nature, Outcome, describe, info

if TYPE_CHECKING:
    from monitor.config.model import AlertRules, Config, IdentityConfig
    from monitor.model.incidents import ProbeHistory
    from monitor.model.probes import IdentityState

RECOVERING = "recovering"  # details key: the finding only keeps an open incident open
COVERED_BY = "covered_by"  # details key: the key of a wider finding that stands for this one
SOURCE = "probe"

DEFINITIVE_KINDS: dict[Outcome, FindingKind] = {
    Outcome.CREDENTIAL_INVALID: FindingKind.CREDENTIAL_BROKEN,
    Outcome.CREDENTIAL_EXPIRED: FindingKind.CREDENTIAL_BROKEN,
    Outcome.PASSWORD_EXPIRED: FindingKind.CREDENTIAL_BROKEN,
    Outcome.IDENTITY_NOT_FOUND: FindingKind.CREDENTIAL_BROKEN,
    Outcome.POLICY_BLOCKED: FindingKind.CREDENTIAL_BROKEN,
    Outcome.MISCONFIGURED: FindingKind.CREDENTIAL_BROKEN,
    Outcome.ACCOUNT_DISABLED: FindingKind.ACCOUNT_DISABLED,
    Outcome.ACCOUNT_LOCKED: FindingKind.ACCOUNT_LOCKED,
    Outcome.NOT_IN_ENVIRONMENT: FindingKind.NOT_IN_ENVIRONMENT,
    Outcome.NO_ROLE: FindingKind.SECURITY_ROLE,
    Outcome.MISSING_PRIVILEGE: FindingKind.SECURITY_ROLE,
    Outcome.NO_LICENCE: FindingKind.LICENCE,
    Outcome.RESOURCE_DISABLED: FindingKind.LICENCE,
}
# Kinds found per environment (one finding each); the others are one per identity.
PER_ENVIRONMENT = frozenset({FindingKind.NOT_IN_ENVIRONMENT, FindingKind.SECURITY_ROLE})

TENANT_REMEDY = (
    "Check the monitor host's network, proxy and DNS, and the Microsoft 365 / Power Platform "
    "service health pages; the credentials themselves were not judged."
)


@dataclass(frozen=True)
class _Pair:
    """One identity in one environment, as the rules see it."""

    environment: str
    state: IdentityState
    failing_since: datetime
    recovered_from: Outcome | None
    aadsts_code: int | None
    correlation_id: str | None
    message: str | None = None

    @property
    def nature(self) -> Nature:
        return info(self.state.outcome).nature

    @property
    def definitive(self) -> bool:
        return self.nature is Nature.DEFINITIVE

    @property
    def in_maintenance(self) -> bool:
        return self.state.outcome is Outcome.MAINTENANCE

    @property
    def failing_transiently(self) -> bool:
        """Failing for a reason that says nothing about the credential (planned maintenance is
        its own finding, not a failure to verify)."""
        return self.nature in (Nature.TRANSIENT, Nature.LOCAL) and not self.in_maintenance

    def recovering(self, rules: AlertRules) -> bool:
        """Healthy now, but not yet for long enough to call the earlier failure over."""
        return (
            self.state.outcome is Outcome.OK
            and self.recovered_from is not None
            and self.state.consecutive_successes < rules.resolve_after_successes
        )

    def recovering_from(self, natures: tuple[Nature, ...], rules: AlertRules) -> bool:
        return (
            self.recovering(rules)
            and self.recovered_from is not None
            and self.recovered_from is not Outcome.MAINTENANCE
            and info(self.recovered_from).nature in natures
        )

    def cannot_verify_due(self, rules: AlertRules) -> bool:
        """Failing transiently often and long enough to say so."""
        if not self.failing_transiently:
            return False
        last = self.state.last_attempt_at or self.state.last_probe_at
        span = last - self.failing_since
        return self.state.consecutive_failures >= rules.cannot_verify_after_failures and span >= (
            timedelta(minutes=rules.cannot_verify_after_minutes)
        )


def _outcome(value: str | None) -> Outcome | None:
    if value is None:
        return None
    try:
        return Outcome(value)
    except ValueError:
        return Outcome.UNCLASSIFIED


def _pairs(
    identity: IdentityConfig,
    states: Mapping[tuple[str, str], IdentityState],
    histories: Mapping[tuple[str, str], ProbeHistory],
) -> list[_Pair]:
    pairs: list[_Pair] = []
    for environment in identity.environments:
        state = states.get((identity.name, environment))
        if state is None:
            continue
        history = histories.get((identity.name, environment))
        failing_since = state.since
        if history is not None and history.failing_since is not None:
            failing_since = min(history.failing_since, state.since)
        pairs.append(
            _Pair(
                environment=environment,
                state=state,
                failing_since=failing_since,
                recovered_from=_outcome(history.recovered_from) if history else None,
                aadsts_code=history.aadsts_code if history else None,
                correlation_id=history.correlation_id if history else None,
                message=history.message if history else None,
            )
        )
    return pairs


def probe_findings(
    states: Sequence[IdentityState],
    histories: Mapping[tuple[str, str], ProbeHistory],
    config: Config,
    now: datetime,
) -> list[Finding]:
    """Given every stored identity state, the probe histories, the configuration and the time,
    return the probe findings (identities no longer configured produce none)."""
    by_pair = {(state.identity, state.environment): state for state in states}
    findings: list[Finding] = []
    per_tenant: dict[str, list[tuple[IdentityConfig, list[_Pair]]]] = {}
    maintenance: dict[str, list[tuple[IdentityConfig, _Pair]]] = {}
    for identity in config.identities.values():
        pairs = _pairs(identity, by_pair, histories)
        if not pairs:
            continue
        rules = config.alerts.rules_for(identity)
        findings.extend(_definitive_findings(identity, pairs, rules))
        per_tenant.setdefault(identity.tenant, []).append((identity, pairs))
        for pair in pairs:
            if pair.in_maintenance:
                maintenance.setdefault(pair.environment, []).append((identity, pair))
    findings.extend(
        _maintenance_finding(environment, members) for environment, members in maintenance.items()
    )
    for tenant, members in per_tenant.items():
        tenant_key = Finding.make_key(FindingKind.CANNOT_VERIFY, tenant=tenant, subject_id=SOURCE)
        tenant_finding = _tenant_finding(tenant, tenant_key, members, config, now)
        if tenant_finding is not None:
            findings.append(tenant_finding)
        for identity, pairs in members:
            rules = config.alerts.rules_for(identity)
            finding = _cannot_verify_finding(identity, pairs, rules, tenant_key, now)
            if finding is not None:
                findings.append(finding)
    return findings


def _identity_finding(
    kind: FindingKind,
    level: Level,
    identity: IdentityConfig,
    members: Sequence[_Pair],
    outcome: Outcome,
    *,
    environment: str | None,
    subject: str,
    summary: str,
    remedy: str,
    details: Mapping[str, object],
    keyed_environment: str | None = None,
) -> Finding:
    """Return a probe finding about *identity* that reports the run of *outcome* of its pairs
    *members* (keyed by *keyed_environment* for the kinds found per environment)."""
    key = Finding.make_key(
        kind,
        tenant=identity.tenant,
        identity=identity.name,
        environment=keyed_environment,
        subject_id=SOURCE,
    )
    return Finding.create(
        kind,
        level,
        key=key,
        tenant=identity.tenant,
        identity=identity.name,
        environment=environment,
        subject=subject,
        summary=summary,
        remedy=remedy,
        observed_at=max(pair.state.last_probe_at for pair in members),
        source=SOURCE,
        details={
            "outcome": outcome.value,
            "environments": [pair.environment for pair in members],
            "failing_since": min(pair.failing_since for pair in members).isoformat(),
            **details,
        },
    )


def _credential_words(identity: IdentityConfig) -> str:
    if identity.credential_type == "password":
        return f"the password of {identity.username or identity.name}"
    if identity.credential_type == "certificate":
        thumbprint = identity.certificate.thumbprint_sha1 if identity.certificate else None
        suffix = f" (thumbprint {thumbprint})" if thumbprint else ""
        return f"the certificate{suffix} configured for {identity.name}"
    return f"the client secret configured for {identity.name}"


def _code_words(pair: _Pair) -> str:
    parts = []
    if pair.aadsts_code is not None:
        parts.append(f"AADSTS{pair.aadsts_code}")
    if pair.correlation_id:
        parts.append(f"correlation id {pair.correlation_id}")
    return f" ({', '.join(parts)})" if parts else ""


def _definitive_findings(
    identity: IdentityConfig, pairs: list[_Pair], rules: AlertRules
) -> list[Finding]:
    findings: list[Finding] = []
    grouped: dict[FindingKind, list[_Pair]] = {}
    for pair in pairs:
        outcome: Outcome | None = None
        if pair.definitive:
            outcome = pair.state.outcome
        elif pair.recovering_from((Nature.DEFINITIVE,), rules):
            outcome = pair.recovered_from
        if outcome is None or outcome not in DEFINITIVE_KINDS:
            continue
        grouped.setdefault(DEFINITIVE_KINDS[outcome], []).append(pair)
    for kind, members in grouped.items():
        if kind in PER_ENVIRONMENT:
            for pair in members:
                findings.append(_definitive(identity, kind, [pair], rules, pair.environment))
        else:
            environment = members[0].environment if len(identity.environments) == 1 else None
            findings.append(_definitive(identity, kind, members, rules, environment))
    return findings


def _definitive(
    identity: IdentityConfig,
    kind: FindingKind,
    members: list[_Pair],
    rules: AlertRules,
    environment: str | None,
) -> Finding:
    failing = [pair for pair in members if pair.definitive]
    lead = failing[0] if failing else members[0]
    outcome = lead.state.outcome if failing else (lead.recovered_from or lead.state.outcome)
    summary_words, remedy = describe(
        outcome, aadsts_code=lead.aadsts_code, credential_type=identity.credential_type
    )
    if kind is FindingKind.NOT_IN_ENVIRONMENT:
        subject = f"{identity.name} in environment {lead.environment}"
    elif kind is FindingKind.SECURITY_ROLE:
        subject = f"the security roles of {identity.name} in environment {lead.environment}"
    elif outcome is Outcome.RESOURCE_DISABLED:
        subject = f"Dataverse (Dynamics CRM) in tenant {identity.tenant}"
    elif kind is FindingKind.LICENCE:
        subject = f"the licence of {identity.username or identity.name}"
    elif kind is FindingKind.CREDENTIAL_BROKEN:
        subject = _credential_words(identity)
    else:
        subject = f"the account {identity.username or identity.name}"
    summary = f"{summary_words}{_privilege_words(outcome, lead)}{_code_words(lead)}"
    if not failing:
        summary += "; it worked again at the last check, waiting for a second success"
    return _identity_finding(
        kind,
        Level.CRITICAL,
        identity,
        members,
        outcome,
        keyed_environment=environment if kind in PER_ENVIRONMENT else None,
        environment=environment,
        subject=subject,
        summary=summary,
        remedy=remedy,
        details={
            "aadsts_code": lead.aadsts_code,
            "correlation_id": lead.correlation_id,
            RECOVERING: not failing,
            "resolve_after_successes": rules.resolve_after_successes,
        },
    )


_PRIVILEGE = re.compile(r"\bprv[A-Za-z0-9_]+")


def _privilege_words(outcome: Outcome, pair: _Pair) -> str:
    """Name the privilege a ``missing_privilege`` answer named (from the result's message)."""
    if outcome is not Outcome.MISSING_PRIVILEGE or not pair.message:
        return ""
    found = _PRIVILEGE.search(pair.message)
    return f": {found.group(0)}" if found else ""


def _maintenance_finding(environment: str, members: list[tuple[IdentityConfig, _Pair]]) -> Finding:
    """One warning for an environment in administration mode, whichever identities met it."""
    identity = members[0][0]
    outcome_info = info(Outcome.MAINTENANCE)
    since = min(pair.failing_since for _, pair in members)
    names = sorted({member.name for member, _ in members})
    return Finding.create(
        FindingKind.MAINTENANCE,
        Level.WARNING,
        tenant=identity.tenant,
        identity=None,
        environment=environment,
        subject_id=SOURCE,
        subject=f"environment {environment}",
        summary=f"environment {environment} is in administration mode since {_when(since)} "
        f"(planned maintenance, 0x8004a113): only System Administrators and System "
        f"Customizers can sign in; {', '.join(names)} wait for it to end",
        remedy=outcome_info.remedy,
        observed_at=max(pair.state.last_probe_at for _, pair in members),
        source=SOURCE,
        details={
            "outcome": Outcome.MAINTENANCE.value,
            "identities": names,
            "failing_since": since.isoformat(),
        },
    )


def _cannot_verify_finding(
    identity: IdentityConfig,
    pairs: list[_Pair],
    rules: AlertRules,
    tenant_key: str,
    now: datetime,
) -> Finding | None:
    failing = [pair for pair in pairs if pair.failing_transiently]
    recovering = [
        pair for pair in pairs if pair.recovering_from((Nature.TRANSIENT, Nature.LOCAL), rules)
    ]
    if not failing and not recovering:
        return None
    due = any(pair.cannot_verify_due(rules) for pair in failing)
    members = failing or recovering
    lead = members[0]
    outcome = lead.state.outcome if failing else (lead.recovered_from or Outcome.UNREACHABLE)
    outcome_info = info(outcome)
    since = min(pair.failing_since for pair in members)
    failures = max((pair.state.consecutive_failures for pair in failing), default=0)
    environments = [pair.environment for pair in members]
    if failing:
        summary = (
            f"could not verify the credential of {identity.name} since "
            f"{_when(since)} ({failures} failed checks in a row): {outcome_info.summary}"
            f"{_code_words(lead)}"
        )
    else:
        summary = (
            f"checks of {identity.name} work again; waiting for "
            f"{rules.resolve_after_successes} successes in a row"
        )
    return _identity_finding(
        FindingKind.CANNOT_VERIFY,
        Level.WARNING,
        identity,
        members,
        outcome,
        environment=environments[0] if len(identity.environments) == 1 else None,
        subject=f"the sign-in and Dataverse checks of {identity.name}",
        summary=summary,
        remedy=outcome_info.remedy,
        details={
            "failures": failures,
            COVERED_BY: tenant_key,
            RECOVERING: not due,
        },
    )


def _tenant_finding(
    tenant: str,
    key: str,
    members: list[tuple[IdentityConfig, list[_Pair]]],
    config: Config,
    now: datetime,
) -> Finding | None:
    """One finding for a whole tenant when every (not definitively broken) identity of it
    fails for reasons that say nothing about the credentials."""
    considered: list[tuple[IdentityConfig, AlertRules, list[_Pair]]] = []
    for identity, pairs in members:
        candidates = [pair for pair in pairs if not pair.definitive]
        if candidates:
            considered.append((identity, config.alerts.rules_for(identity), candidates))
    if len(considered) < 2:
        return None
    failing_identities = [
        identity.name
        for identity, _, pairs in considered
        if any(pair.failing_transiently for pair in pairs)
    ]
    all_failing = all(all(pair.failing_transiently for pair in pairs) for _, _, pairs in considered)
    due = all_failing and any(
        pair.cannot_verify_due(rules) for _, rules, pairs in considered for pair in pairs
    )
    unsettled = [
        identity.name
        for identity, rules, pairs in considered
        if any(
            pair.failing_transiently
            or pair.recovering_from((Nature.TRANSIENT, Nature.LOCAL), rules)
            for pair in pairs
        )
    ]
    if not due and not unsettled:
        return None
    pairs_all = [pair for _, _, pairs in considered for pair in pairs]
    failing_pairs = [pair for pair in pairs_all if pair.failing_transiently]
    outcomes = sorted({pair.state.outcome.value for pair in failing_pairs})
    since = min((pair.failing_since for pair in failing_pairs), default=now)
    if failing_identities:
        summary = (
            f"could not verify {len(failing_identities)} of the {len(considered)} identities of "
            f"tenant {tenant} since {_when(since)} ({', '.join(outcomes)}): the identity "
            "provider or Dataverse did not answer in a way that says anything about the "
            f"credentials; still failing: {', '.join(failing_identities)}"
        )
    else:
        summary = f"the checks of tenant {tenant} work again; waiting for a second success"
    return Finding.create(
        FindingKind.CANNOT_VERIFY,
        Level.WARNING,
        key=key,
        tenant=tenant,
        identity=None,
        environment=None,
        subject=f"every identity of tenant {tenant}",
        summary=summary,
        remedy=TENANT_REMEDY,
        observed_at=max(pair.state.last_probe_at for pair in pairs_all),
        source=SOURCE,
        details={
            "outcomes": outcomes,
            "identities": [identity.name for identity, _, _ in considered],
            "failing": failing_identities,
            "failing_since": since.isoformat(),
            RECOVERING: not due,
        },
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC")
