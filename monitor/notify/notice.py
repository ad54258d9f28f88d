"""The content of a notice: what ops must read, decided once, stored in the outbox as JSON.

A :class:`Notice` holds words, not formatting: who, what is wrong, the deadline, the impact, the
remedy, a portal link and the incident id (``[CM-42]`` starts every title, so an at-least-once
duplicate is recognisable); :mod:`monitor.notify.render` formats it. Nothing secret goes in, and
every text passes through :func:`monitor.secrets.scrub` as a last guard (docs/notifications.md,
"Notices").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.cloud import admin_centers
from monitor.model.clock import in_days_words
from monitor.model.findings import FindingKind
from monitor.model.incidents import IncidentRecord
from monitor.secrets import scrub

if TYPE_CHECKING:
    from monitor.config.model import Config, IdentityConfig

# Admin-center links follow the tenant's cloud (and GCC: a public tenant's *.crm9 environments),
# see monitor.cloud.admin_centers.
# Entra's answer when a credential of each type has expired (7000222 is for secrets only).
EXPIRED_ANSWERS = {
    "client_secret": "AADSTS7000222",
    "certificate": 'AADSTS700027 "The key used is expired"',
}

IMPACT: dict[str, str] = {
    FindingKind.CREDENTIAL_BROKEN: (
        "Every sign-in of the integration fails now: it cannot read or write Dataverse data "
        "until the credential is fixed."
    ),
    FindingKind.CREDENTIAL_EXPIRING: (
        "When it expires, the integration's sign-ins fail (AADSTS7000222 for a client secret, "
        'AADSTS700027 "The key used is expired" for a certificate) and it stops reading and '
        "writing Dataverse data."
    ),
    FindingKind.PASSWORD_EXPIRING: (
        "When the password expires, the integration's sign-ins fail (AADSTS50055) and it stops "
        "reading and writing Dataverse data."
    ),
    FindingKind.ACCOUNT_DISABLED: (
        "Sign-ins are refused, or Dataverse rejects the user: the integration is down."
    ),
    FindingKind.ACCOUNT_LOCKED: (
        "Sign-ins are refused until the lockout ends, and every further attempt with a wrong "
        "password extends it: the integration is down meanwhile."
    ),
    FindingKind.LICENCE: "Without a licence Dataverse refuses the user: the integration stops.",
    FindingKind.NOT_IN_ENVIRONMENT: (
        "The integration signs in, but Dataverse refuses every request in this environment."
    ),
    FindingKind.SECURITY_ROLE: (
        "The integration signs in, but Dataverse refuses what its security roles do not allow: "
        "without any role, every request."
    ),
    FindingKind.MAINTENANCE: (
        "While the environment is in administration mode only System Administrators and "
        "System Customizers get in: integrations running as other users are refused until it "
        "ends."
    ),
    FindingKind.OVER_PRIVILEGED: (
        "Nothing breaks, but the integration can change or delete far more than it needs: a bug "
        "or a leaked credential does that much more damage."
    ),
    FindingKind.IDENTITY_TYPE: (
        "The integration depends on a person's account: it breaks when their password changes "
        "or they leave, and it uses their API allocation."
    ),
    FindingKind.CAPACITY: (
        "No further user or licence can be added when one is needed (for example to replace "
        "this identity)."
    ),
    FindingKind.USAGE: (
        "Dataverse throttles the integration (HTTP 429) or the tenant runs out of its request "
        "allocation: jobs slow down or fail."
    ),
    FindingKind.CANNOT_VERIFY: (
        "Unknown: the monitor got no answer that says whether the credential works. If the "
        "cause is a network or service outage, the integration is likely affected too."
    ),
    FindingKind.NOT_OBSERVED: (
        "A fact the monitor needs could not be read, so a problem there would go unnoticed."
    ),
}

EVENT_WORDS = {
    "opened": "New",
    "escalated": "Escalated",
    "rung": "Deadline nearer",
    "expired": "Expired",
    "reminder": "Reminder",
    "resolved": "Resolved",
    "channel_failing": "Channel failing",
    "test": "Test",
}


@dataclass(frozen=True)
class Notice:
    """One notice about one incident (or about the monitor itself: a failing channel, a test).

    ``title`` is the one-line summary that starts with the incident id; ``facts`` are (label,
    value) pairs shown as a table; ``what``, ``impact`` and ``remedy`` are sentences;
    ``portal_url`` / ``portal_label`` link to where it is fixed; ``lines`` are extra sentences.
    """

    event: str
    level: str
    title: str
    headline: str
    label: str | None = None
    incident_id: int | None = None
    kind: str | None = None
    identity: str | None = None
    tenant: str | None = None
    deadline: str | None = None  # ISO 8601, UTC
    deadline_text: str | None = None
    what: str = ""
    impact: str = ""
    remedy: str = ""
    portal_url: str | None = None
    portal_label: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    lines: tuple[str, ...] = ()
    created_at: str = ""
    included: tuple[Notice, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Notice:
        return _from_dict(json.loads(text))


def _from_dict(data: Mapping[str, Any]) -> Notice:
    known = {f.name for f in fields(Notice)}
    values = {key: value for key, value in data.items() if key in known}
    values["facts"] = tuple(tuple(pair) for pair in values.get("facts", ()))
    values["lines"] = tuple(values.get("lines", ()))
    values["included"] = tuple(_from_dict(item) for item in values.get("included", ()))
    return Notice(**values)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def deadline_words(deadline: datetime, now: datetime) -> str:
    """Return "in 6 days, on 2 Dec 2026 14:00 UTC" or "3 days ago, on ..." (whole days
    rounded down, then hours, then minutes: :func:`monitor.model.clock.in_days_words`)."""
    return f"{in_days_words(deadline, now)}, on {_when(deadline)}"


def _when(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y %H:%M} UTC"


def _day(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y}"


def lasted_words(span: timedelta) -> str:
    """Return how long an incident lasted, rounded down: "2 days 4 h", "3 h 12 min", "12 min",
    "under a minute"."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _plural(days, "day") + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min" if minutes else "under a minute"


def portal_link(incident: IncidentRecord, config: Config) -> tuple[str, str]:
    """Return (URL, label) of the admin page where the incident is fixed, in the admin center
    of the tenant's cloud (GCC, GCC High and DoD have their own hosts)."""
    given = incident.details.get("portal_url")
    if isinstance(given, str) and given.startswith("https://"):
        label = incident.details.get("portal_label")
        return given, label if isinstance(label, str) else "Open the admin page"
    identity = config.identities.get(incident.identity or "")
    tenant = config.tenants.get(incident.tenant)
    environment = config.environments.get(incident.environment or "")
    if environment is None and identity is not None and identity.environments:
        environment = config.environments.get(identity.environments[0])
    centers = admin_centers(
        tenant.cloud if tenant else "public", environment.url if environment else None
    )
    portal = centers.entra
    kind = incident.kind
    if kind == FindingKind.CANNOT_VERIFY and identity is None:
        if centers.microsoft_365 is None:
            return portal, "Entra admin center"
        return (
            f"{centers.microsoft_365}/adminportal/home#/servicehealth",
            "Microsoft 365 service health",
        )
    if (
        kind
        in (
            FindingKind.NOT_IN_ENVIRONMENT,
            FindingKind.SECURITY_ROLE,
            FindingKind.MAINTENANCE,
            FindingKind.CAPACITY,
            FindingKind.USAGE,
        )
        and centers.power_platform is not None
    ):
        return (
            f"{centers.power_platform}/environments",
            "Power Platform admin center: environments",
        )
    if kind == FindingKind.LICENCE:
        return (
            f"{portal}/#view/Microsoft_AAD_IAM/LicensesMenuBlade/~/Products",
            "Entra admin center: licences",
        )
    if kind in (FindingKind.CANNOT_VERIFY, FindingKind.ACCOUNT_LOCKED):
        return (
            f"{portal}/#view/Microsoft_AAD_IAM/SignInEventsV3Blade",
            "Entra admin center: sign-in logs",
        )
    if identity is not None and identity.kind == "application":
        if kind == FindingKind.ACCOUNT_DISABLED:
            return (
                f"{portal}/#view/Microsoft_AAD_IAM/ManagedAppMenuBlade/~/Properties/appId/"
                f"{identity.client_id}",
                "Entra admin center: enterprise application properties",
            )
        return (
            f"{portal}/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/Credentials/appId/"
            f"{identity.client_id}",
            "Entra admin center: app registration, certificates & secrets",
        )
    if identity is not None and identity.kind == "user":
        return (
            f"{portal}/#view/Microsoft_AAD_UsersAndTenants/UserManagementMenuBlade/~/AllUsers",
            f"Entra admin center: users (search {identity.username or identity.name})",
        )
    return portal, "Entra admin center"


def impact_of(incident: IncidentRecord, config: Config) -> str:
    """Return what the integration will experience; an expiring credential names the answer
    Entra gives for its own type."""
    impact = IMPACT.get(incident.kind, "")
    if incident.kind != FindingKind.CREDENTIAL_EXPIRING:
        return impact
    identity = config.identities.get(incident.identity or "")
    kind: str | None = identity.credential_type if identity is not None else None
    if identity is None:
        tenant = config.tenants.get(incident.tenant)
        observer = tenant.observer if tenant is not None else None
        if observer is not None:
            kind = "certificate" if observer.certificate is not None else "client_secret"
    if "certificate" in incident.subject:
        kind = "certificate"
    answer = EXPIRED_ANSWERS.get(kind or "")
    if answer is None:
        return impact
    return (
        f"When it expires, the integration's sign-ins fail ({answer}) and it stops reading and "
        "writing Dataverse data."
    )


def _first_clause(text: str) -> str:
    for separator in ("; ", ". "):
        if separator in text:
            return text.split(separator, 1)[0]
    return text


def _who(incident: IncidentRecord) -> str:
    return incident.identity or f"tenant {incident.tenant}"


def build_notice(
    incident: IncidentRecord,
    event: str,
    config: Config,
    now: datetime,
    *,
    note: str = "",
    superseded: bool = False,
) -> Notice:
    """Return the notice announcing *event* of *incident* (which has its id)."""
    assert incident.id is not None, "a notice needs the incident's id"
    label = f"CM-{incident.id}"
    identity: IdentityConfig | None = config.identities.get(incident.identity or "")
    resolved = event == "resolved"
    resolved_at = (incident.resolved_at or now) if resolved else None
    deadline_text = None
    if incident.deadline is not None and not resolved:
        verb = "expired" if incident.deadline <= now else "expires"
        deadline_text = f"{verb} {deadline_words(incident.deadline, now)}"
    if deadline_text is not None:
        headline = f"{_who(incident)}: {incident.subject} {deadline_text.split(', on ')[0]}"
    elif incident.deadline is not None and resolved_at is not None:
        # What was wrong, without a countdown that no longer applies.
        verb = "expired" if incident.deadline <= resolved_at else "expiring"
        headline = f"{_who(incident)}: {incident.subject} {verb} {_day(incident.deadline)}"
    else:
        headline = f"{_who(incident)}: {_first_clause(incident.summary)}"
    level_word = incident.level.upper()
    if event == "resolved":
        title = f"[{label}] RESOLVED {headline}"
    elif event == "reminder":
        title = f"[{label}] REMINDER {level_word} {headline}"
    elif event == "escalated":
        title = f"[{label}] {level_word} (escalated) {headline}"
    else:
        title = f"[{label}] {level_word} {headline}"
    facts: list[tuple[str, str]] = [("Incident", label), ("Severity", incident.level)]
    if incident.identity:
        facts.append(("Identity", incident.identity))
        facts.append(("Owner", identity.owner if identity and identity.owner else "not recorded"))
    facts.append(("Tenant", incident.tenant))
    environments = incident.details.get("environments")
    if incident.environment:
        facts.append(("Environment", incident.environment))
    elif isinstance(environments, list) and environments:
        facts.append(("Environments", ", ".join(str(e) for e in environments)))
    elif identity is not None:
        facts.append(("Environments", ", ".join(identity.environments)))
    if deadline_text is not None:
        facts.append(("Deadline", deadline_text))
    lasted = lasted_words(resolved_at - incident.opened_at) if resolved_at is not None else ""
    if resolved_at is not None:
        facts.append(("Opened", _when(incident.opened_at)))
        facts.append(("Resolved", _when(resolved_at)))
        facts.append(("Lasted", lasted))
    else:
        facts.append(("Open since", _when(incident.opened_at)))
    if incident.acknowledged_at is not None:
        who = f" by {incident.acknowledged_by}" if incident.acknowledged_by else ""
        facts.append(("Acknowledged", f"{_when(incident.acknowledged_at)}{who}"))
    lines: list[str] = []
    if resolved_at is not None:
        lines.append(
            f"Lasted {lasted}: opened {_when(incident.opened_at)}, resolved {_when(resolved_at)}; "
            "the problem is no longer found."
        )
        if superseded:
            lines.append(
                "The earlier notice about it had not been delivered here before it cleared: "
                "it failed and recovered."
            )
    elif event == "reminder":
        lines.append("Still open. Acknowledge it (monitor ack " + label + ") to stop reminders.")
    if note:
        lines.append(note[:1].upper() + note[1:] + ".")
    url, portal_label = portal_link(incident, config)
    return _scrubbed(
        Notice(
            event=event,
            level=incident.level,
            title=title,
            headline=headline,
            label=label,
            incident_id=incident.id,
            kind=incident.kind,
            identity=incident.identity,
            tenant=incident.tenant,
            deadline=incident.deadline.isoformat() if incident.deadline else None,
            deadline_text=deadline_text,
            what=f"{incident.subject}: {incident.summary}",
            # A resolved notice says what was wrong, not what to do or what would happen.
            impact="" if resolved else impact_of(incident, config),
            remedy="" if resolved else incident.remedy,
            portal_url=url,
            portal_label=portal_label,
            facts=tuple(facts),
            lines=tuple(lines),
            created_at=now.isoformat(),
        )
    )


def channel_failing_notice(
    channel: str, lost: list[Notice], error: str | None, now: datetime, *, minutes: float
) -> Notice:
    """Return the notice a fallback channel gets when *channel* gave up on *lost* notices."""
    labels = [notice.label for notice in lost if notice.label]
    shown = ", ".join(dict.fromkeys(labels)) or "notices about the monitor"
    title = f"[{shown}] Channel {channel} is failing: {len(lost)} undelivered"
    lines = [
        f"The monitor could not deliver {_plural(len(lost), 'notice')} to the channel "
        f"{channel} within {minutes:g} minutes and gave up on that channel for them.",
        f"Last error: {error or 'unknown'}.",
        "Check the channel's URL (monitor notify test " + channel + "); the undelivered notices "
        "follow here. After fixing it, `monitor notify requeue --channel " + channel + "` sends "
        "them there again.",
    ]
    return _scrubbed(
        Notice(
            event="channel_failing",
            level="critical",
            title=title,
            headline=f"channel {channel} is failing",
            what=f"Notifications to {channel} fail: {error or 'unknown error'}",
            impact="Incidents routed only to that channel reach nobody until it is fixed.",
            remedy="Fix the channel (a revoked Teams workflow, a changed SMTP password, a full "
            "mailbox) and requeue its notices.",
            facts=(("Channel", channel), ("Undelivered", str(len(lost)))),
            lines=tuple(lines),
            created_at=now.isoformat(),
            included=tuple(lost),
        )
    )


def make_test_notice(channel: str, now: datetime) -> Notice:
    """Return the notice ``monitor notify test`` sends."""
    stamp = _when(now)
    return Notice(
        event="test",
        level="info",
        title=f"[CM-TEST] Test notice from the credential monitor to {channel}",
        headline=f"test notice to {channel}",
        label="CM-TEST",
        what=f"This is a test of the channel {channel}, sent {stamp}.",
        impact="None: nothing is wrong.",
        remedy="Nothing to do. Real notices look like this one, with the incident id in front "
        "(at the end of an e-mail subject).",
        facts=(("Channel", channel), ("Sent", stamp)),
        created_at=now.isoformat(),
    )


def _scrubbed(notice: Notice) -> Notice:
    """Return *notice* with every registered secret value masked in every text."""
    data = json.loads(notice.to_json())
    return _from_dict(_scrub_tree(data))


def _scrub_tree(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrub_tree(item) for item in value]
    if isinstance(value, dict):
        return {key: _scrub_tree(item) for key, item in value.items()}
    return value
