"""One problem keeps one incident id when the cause that explains it changes: a password expiry
folded into the disabled account that now explains it stays the same incident; incidents of an
earlier version, keyed by the finding that noticed them, are carried over to their cause."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from support.notify.alerting import T0, finding, write_deployment

from monitor.incidents.evaluate import evaluate_findings
from monitor.model.findings import FindingKind, Level
from monitor.model.incidents import IncidentRecord

CHANNELS = [{"name": "log", "urls": ["json://127.0.0.1:9/"]}]


def expiring(days: int = 20) -> object:
    return finding(
        kind=FindingKind.PASSWORD_EXPIRING,
        subject="the password",
        subject_id="password",
        deadline=T0 + timedelta(days=days),
    )


def disabled() -> object:
    return finding(
        kind=FindingKind.ACCOUNT_DISABLED,
        level=Level.CRITICAL,
        subject="the account",
        summary="the account is disabled in Entra ID",
        subject_id="account",
        deadline=T0,
    )


def transitions_of(store, incident: IncidentRecord) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.event for t in store.alerting.incident_transitions(incident.id)]


def test_a_cause_folded_into_a_wider_one_keeps_its_incident(tmp_path: Path) -> None:
    """The password expiry is an incident; then the account is disabled, which explains it:
    the same incident (same id) now stands for the account and escalates to critical, nothing
    resolves. When the account is enabled again, the account incident resolves and the
    password expiry, still there, is a problem of its own again."""
    deployment = write_deployment(tmp_path)
    config = deployment.load()
    with deployment.open_store() as store:
        evaluate_findings(store, config, [expiring()], T0)
        (first,) = store.alerting.incidents(open_only=True)
        later = T0 + timedelta(hours=1)
        evaluate_findings(store, config, [expiring(), disabled()], later)
        (carried,) = store.alerting.incidents(open_only=True)
        evaluate_findings(store, config, [expiring()], later + timedelta(hours=1))
        after = store.alerting.incidents(open_only=True)

        assert first.key == "cause:credential:contoso/sales-sync"
        assert (first.id, "cause:account:contoso/sales-sync", "critical") == (
            carried.id,
            carried.key,
            carried.level,
        )
        assert ["opened", "regrouped", "escalated", "expired", "resolved"] == transitions_of(
            store, carried
        )
        (again,) = after
        assert (first.key, True) == (again.key, again.id != first.id)


def test_incidents_of_an_earlier_version_are_carried_over_to_their_cause(
    tmp_path: Path,
) -> None:
    """Two open incidents keyed the old way (by finding: Graph's end date and the failing
    probe) for one expired secret: the first becomes the cause's incident, the second is closed
    as merged into it, and no notice goes out for either move."""
    deployment = write_deployment(tmp_path, channels=CHANNELS)
    config = deployment.load()
    graph = finding(deadline=T0 - timedelta(days=1), level=Level.CRITICAL)
    probe = finding(
        kind=FindingKind.CREDENTIAL_BROKEN,
        level=Level.CRITICAL,
        subject_id="probe",
        details={"outcome": "credential_expired"},
    )
    with deployment.open_store() as store:
        with store.alerting.unit() as unit:
            for old in (graph, probe):
                unit.save_incident(
                    IncidentRecord(
                        id=None,
                        key=old.key,
                        kind=old.kind.value,
                        level="critical",
                        tenant=old.tenant,
                        identity=old.identity,
                        environment=None,
                        subject=old.subject,
                        summary=old.summary,
                        remedy=old.remedy,
                        source=old.source,
                        deadline=old.deadline,
                        opened_at=T0 - timedelta(days=1),
                        observed_at=T0 - timedelta(days=1),
                        notified_at=T0 - timedelta(days=1),
                        notified_level="critical",
                        ladder_rung=0,
                        next_notice_at=T0 + timedelta(days=1),
                    )
                )
        before = store.alerting.incidents(open_only=True)
        evaluate_findings(store, config, [graph, probe], T0)
        everything = store.alerting.incidents()
        queued = store.alerting.outbox()

    kept = min(before, key=lambda i: i.id or 0)
    merged = max(before, key=lambda i: i.id or 0)
    by_id = {i.id: i for i in everything}
    assert "cause:credential:contoso/sales-sync" == by_id[kept.id].key
    assert (None, True) == (by_id[kept.id].resolved_at, by_id[merged.id].resolved_at is not None)
    assert ["merged"] == [
        t.event for t in store.alerting.incident_transitions(merged.id) if t.event == "merged"
    ]
    assert [] == queued
