"""The incident state machine, pure: ladders, reminders, escalation, resolution, silences, acks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import pairwise
from types import MappingProxyType

from support.notify.alerting import T0, finding

from monitor.config.model import AlertRules
from monitor.findings.probes import COVERED_BY, RECOVERING
from monitor.incidents.machine import Change, current_rung, plan
from monitor.model.findings import Finding, FindingKind, Level
from monitor.model.incidents import IncidentRecord

LADDER = (60, 30, 14, 7, 3, 1)


@dataclass
class Book:
    """Applies changes as the store would and keeps every notice wanted."""

    rules: AlertRules = field(default_factory=AlertRules)
    incidents: dict[int, IncidentRecord] = field(default_factory=dict)
    notices: list[tuple[int, str, int | None, datetime]] = field(default_factory=list)

    def step(
        self,
        findings: Sequence[Finding],
        now: datetime,
        *,
        muted: Callable[[IncidentRecord], bool] = lambda _: False,
        kinds: Sequence[FindingKind] | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Change]:
        open_incidents = [i for i in self.incidents.values() if i.resolved_at is None]
        owing = [i for i in self.incidents.values() if i.resolved_at is not None and i.owed]
        changes = plan(
            open_incidents=open_incidents,
            owing_resolved=owing,
            findings=findings,
            now=now,
            rules_for=lambda _identity: self.rules,
            muted=muted,
            kinds=kinds,
            sources=sources,
        )
        for change in changes:
            record = change.after
            if record.id is None:
                record = replace(record, id=len(self.incidents) + 1)
            assert record.id is not None
            self.incidents[record.id] = record
            if change.notice is not None:
                self.notices.append((record.id, change.notice.name, change.notice.rung, now))
        return changes

    def events(self) -> list[tuple[str, int | None]]:
        return [(name, rung) for _, name, rung, _ in self.notices]


def test_current_rung_boundaries() -> None:
    """A rung is reached at exactly its number of days; past the deadline the rung is 0."""
    deadline = T0 + timedelta(days=30)
    assert current_rung(deadline, T0 - timedelta(days=29), LADDER) == 60
    assert current_rung(deadline, T0 - timedelta(days=31), LADDER) is None
    assert current_rung(deadline, T0 - timedelta(days=1), (30, 7)) is None
    assert current_rung(deadline, T0, LADDER) == 30
    assert current_rung(deadline, T0 + timedelta(seconds=1), LADDER) == 30
    assert current_rung(deadline, deadline - timedelta(days=6, hours=23), LADDER) == 7
    assert current_rung(deadline, deadline - timedelta(hours=1), LADDER) == 1
    assert current_rung(deadline, deadline, LADDER) == 0


def test_each_rung_once_and_expired_daily() -> None:
    """Evaluated every 6 hours for 95 days, a deadline 70 days out is announced once per rung,
    then daily once expired; an incident further out than the first rung opens silently."""
    book = Book()
    deadline = T0 + timedelta(days=70)
    first = book.step([finding(deadline=deadline)], T0)
    assert [e.name for e in first[0].events] == ["opened"]
    assert first[0].notice is None
    now = T0
    while now < deadline + timedelta(days=3, hours=1):
        now += timedelta(hours=6)
        book.step([finding(deadline=deadline, observed_at=now)], now)
    assert [
        ("opened", 60),
        ("rung", 30),
        ("rung", 14),
        ("rung", 7),
        ("rung", 3),
        ("rung", 1),
        ("expired", 0),
        ("expired", 0),
        ("expired", 0),
        ("expired", 0),
    ] == book.events()
    expired_times = [at for _, name, _, at in book.notices if name == "expired"]
    gaps = {b - a for a, b in pairwise(expired_times)}
    assert {timedelta(hours=24)} == gaps


def test_rungs_passed_at_once_give_one_notice() -> None:
    """Opened at 45 days and evaluated next at 5 days: one notice for the 7-day rung."""
    book = Book()
    deadline = T0 + timedelta(days=45)
    book.step([finding(deadline=deadline)], T0)
    book.step([finding(deadline=deadline)], deadline - timedelta(days=5))
    book.step([finding(deadline=deadline)], deadline - timedelta(days=4))
    assert [("opened", 60), ("rung", 7)] == book.events()


def test_deadline_moved_later_restarts_the_ladder() -> None:
    """A renewed credential with the same key moves its deadline out: the nearer rungs are
    announced again when they come."""
    book = Book()
    deadline = T0 + timedelta(days=10)
    book.step([finding(deadline=deadline)], T0)
    later = T0 + timedelta(days=40)
    changes = book.step([finding(deadline=later)], T0 + timedelta(days=1))
    assert ["moved"] == [e.name for e in changes[0].events]
    book.step([finding(deadline=later)], later - timedelta(days=13))
    assert [("opened", 14), ("rung", 14)] == book.events()


def test_critical_reminders_stop_when_acknowledged() -> None:
    """A critical incident without deadline repeats every 4 hours until acknowledged."""
    book = Book()
    broken = finding(kind=FindingKind.CREDENTIAL_BROKEN, level=Level.CRITICAL, subject_id="probe")
    for hours in range(0, 13):
        book.step([broken], T0 + timedelta(hours=hours))
    assert [("opened", None), ("reminder", None), ("reminder", None), ("reminder", None)] == (
        book.events()
    )
    incident = book.incidents[1]
    book.incidents[1] = replace(incident, acknowledged_at=T0 + timedelta(hours=13))
    for hours in range(13, 40):
        book.step([broken], T0 + timedelta(hours=hours))
    assert 4 == len(book.notices)


def test_warning_reminders_daily() -> None:
    """A warning without deadline is repeated daily."""
    book = Book()
    warning = finding(kind=FindingKind.OVER_PRIVILEGED, level=Level.WARNING)
    for hours in range(0, 50):
        book.step([warning], T0 + timedelta(hours=hours))
    assert [("opened", None), ("reminder", None), ("reminder", None)] == book.events()


def test_escalation_notifies_and_deescalation_does_not() -> None:
    """warning -> critical is announced; critical -> warning is recorded only."""
    book = Book()
    book.step([finding(level=Level.WARNING, kind=FindingKind.USAGE)], T0)
    changes = book.step(
        [finding(level=Level.CRITICAL, kind=FindingKind.USAGE)], T0 + timedelta(minutes=5)
    )
    assert "escalated" == changes[0].notice.name if changes[0].notice else False
    changes = book.step(
        [finding(level=Level.WARNING, kind=FindingKind.USAGE)], T0 + timedelta(minutes=10)
    )
    assert ["deescalated"] == [e.name for e in changes[0].events]
    assert changes[0].notice is None
    assert [("opened", None), ("escalated", None)] == book.events()


def test_resolved_notice_only_for_announced_incidents() -> None:
    """An announced incident gets a resolved notice; one opened before its first rung and gone
    before being announced resolves silently."""
    book = Book()
    announced = finding(kind=FindingKind.CREDENTIAL_BROKEN, level=Level.CRITICAL, subject_id="a")
    silent = finding(deadline=T0 + timedelta(days=100), subject_id="b")
    book.step([announced, silent], T0)
    changes = book.step([], T0 + timedelta(hours=1))
    by_key = {c.after.key: c for c in changes}
    assert by_key[announced.key].notice is not None
    assert by_key[announced.key].supersede
    assert by_key[silent.key].notice is None
    assert all(i.resolved_at is not None for i in book.incidents.values())


def test_incidents_of_other_kinds_or_sources_are_not_resolved() -> None:
    """A list complete only for some kinds / sources leaves the others' incidents open."""
    book = Book()
    book.step([finding(deadline=T0 + timedelta(days=5))], T0)
    assert [] == book.step([], T0 + timedelta(hours=1), kinds=[FindingKind.CREDENTIAL_BROKEN])
    assert [] == book.step([], T0 + timedelta(hours=1), sources=["probe"])
    assert 1 == len(book.step([], T0 + timedelta(hours=1), sources=["graph"]))


def test_recovering_finding_never_opens() -> None:
    """A finding marked recovering keeps an open incident open but opens none."""
    book = Book()
    recovering = finding(
        kind=FindingKind.CANNOT_VERIFY, details={RECOVERING: True}, subject_id="probe"
    )
    assert [] == book.step([recovering], T0)
    active = finding(kind=FindingKind.CANNOT_VERIFY, subject_id="probe")
    book.step([active], T0 + timedelta(minutes=5))
    assert [] == [c for c in book.step([recovering], T0 + timedelta(minutes=10)) if c.notice]
    assert book.incidents[1].resolved_at is None


def test_covered_finding_waits_for_the_wider_incident() -> None:
    """A per-identity finding covered by an open tenant-wide incident opens nothing."""
    book = Book()
    tenant_key = Finding.make_key(FindingKind.CANNOT_VERIFY, tenant="contoso", subject_id="probe")
    tenant = Finding(
        key=tenant_key,
        kind=FindingKind.CANNOT_VERIFY,
        level=Level.WARNING,
        tenant="contoso",
        identity=None,
        environment=None,
        subject="every identity of tenant contoso",
        summary="could not verify",
        remedy="check the network",
        observed_at=T0,
        source="probe",
    )
    covered = finding(
        kind=FindingKind.CANNOT_VERIFY,
        subject_id="probe",
        details=MappingProxyType({COVERED_BY: tenant_key}),
    )
    changes = book.step([covered, tenant], T0)
    assert [tenant_key] == [c.after.key for c in changes]


def test_opened_during_silence_is_announced_when_it_ends() -> None:
    """Notices of an incident first found while silenced wait, then go out once."""
    book = Book()
    ends = T0 + timedelta(hours=3)
    broken = finding(kind=FindingKind.CREDENTIAL_BROKEN, level=Level.CRITICAL, subject_id="p")
    for minutes in range(0, 300, 30):
        now = T0 + timedelta(minutes=minutes)
        book.step([broken], now, muted=lambda _i, now=now: now < ends)
    assert [("opened", None)] == book.events()
    assert ends <= book.notices[0][3] < ends + timedelta(minutes=30)


def test_no_storm_after_a_silence_for_announced_incidents() -> None:
    """Ten announced critical incidents silenced for a day: no reminders during the silence and
    none at the moment it ends; reminders resume on their own clock."""
    book = Book()
    findings = [
        finding(kind=FindingKind.CREDENTIAL_BROKEN, level=Level.CRITICAL, subject_id=str(n))
        for n in range(10)
    ]
    book.step(findings, T0)
    start, end = T0 + timedelta(minutes=30), T0 + timedelta(hours=24, minutes=30)
    counts: dict[datetime, int] = {}
    now = T0
    while now < T0 + timedelta(hours=30):
        now += timedelta(minutes=30)
        before = len(book.notices)
        book.step(findings, now, muted=lambda _i, now=now: start <= now < end)
        counts[now] = len(book.notices) - before
    assert 0 == sum(n for at, n in counts.items() if at < end + timedelta(minutes=30))
    assert 10 == sum(counts.values())  # one reminder each, a full interval after the silence


def test_resolution_during_silence_is_announced_after_it() -> None:
    """An announced incident that clears while silenced gets its resolved notice afterwards."""
    book = Book()
    broken = finding(kind=FindingKind.CREDENTIAL_BROKEN, level=Level.CRITICAL, subject_id="p")
    book.step([broken], T0)
    book.step([], T0 + timedelta(hours=1), muted=lambda _i: True)
    assert [("opened", None)] == book.events()
    book.step([], T0 + timedelta(hours=2))
    assert [("opened", None), ("resolved", None)] == book.events()
    assert book.incidents[1].owed is None


def test_duplicate_findings_keep_the_most_severe() -> None:
    """Two findings with one key open one incident at the higher level."""
    book = Book()
    changes = book.step(
        [
            finding(level=Level.WARNING, kind=FindingKind.USAGE),
            finding(level=Level.CRITICAL, kind=FindingKind.USAGE),
        ],
        T0,
    )
    assert ["critical"] == [c.after.level for c in changes]
