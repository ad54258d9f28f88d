"""Silences and acknowledgements against the real store and real delivery."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from support.notify.alerting import SENTINEL_SIG, T0, finding, write_deployment
from support.notify.receivers import HttpsReceiver, card_text

from monitor.config import Config
from monitor.incidents.evaluate import evaluate_findings
from monitor.model.findings import Finding, FindingKind, Level
from monitor.notify.dispatch import dispatch
from monitor.store import Store


def broken(identity: str) -> Finding:
    return finding(
        identity,
        kind=FindingKind.CREDENTIAL_BROKEN,
        level=Level.CRITICAL,
        summary="the credential was rejected",
        subject_id="probe",
    )


def check(store: Store, config: Config, findings: list[Finding], at: datetime) -> None:
    evaluate_findings(store, config, findings, at)
    dispatch(store, config, at)


def test_silenced_incidents_are_recorded_and_announced_when_the_silence_ends(
    tmp_path: Path, teams: HttpsReceiver
) -> None:
    """During a silence on a tag the incident is opened and stored but nothing is sent; the
    other identity is not silenced; after the silence the held notice goes out once."""
    deployment = write_deployment(
        tmp_path, channels=[{"name": "ops", "urls": [teams.workflows_url(SENTINEL_SIG)]}]
    )
    config = deployment.load()
    with deployment.open_store() as store:
        silence = store.alerting.add_silence(
            tag="sales",
            starts_at=T0,
            until=T0 + timedelta(hours=2),
            reason="planned secret rotation",
            created_by="alice",
        )
        assert "tag sales" == silence.scope
        check(store, config, [broken("sales-sync")], T0 + timedelta(minutes=1))
        assert 1 == len(store.alerting.incidents(open_only=True))
        assert [] == store.alerting.outbox()
        check(
            store,
            config,
            [broken("sales-sync"), broken("inventory-sync")],
            T0 + timedelta(minutes=30),
        )
        assert 1 == len(teams.accepted_cards())
        assert "inventory-sync" in card_text(teams.accepted_cards()[0]).splitlines()[0]
        for minutes in range(60, 240, 30):
            check(
                store,
                config,
                [broken("sales-sync"), broken("inventory-sync")],
                T0 + timedelta(minutes=minutes),
            )
        transitions = store.alerting.incident_transitions(store.alerting.incidents()[-1].id)
    titles = [card_text(card).splitlines()[0] for card in teams.accepted_cards()]
    assert 2 == len(titles)
    assert "sales-sync" in titles[1]
    assert "silenced" in transitions[0].note


def test_removing_a_silence_releases_held_notices(tmp_path: Path, teams: HttpsReceiver) -> None:
    """Ending a silence early sends what it held at the next check."""
    deployment = write_deployment(
        tmp_path, channels=[{"name": "ops", "urls": [teams.workflows_url(SENTINEL_SIG)]}]
    )
    config = deployment.load()
    with deployment.open_store() as store:
        silence = store.alerting.add_silence(
            identity="sales-sync",
            starts_at=T0,
            until=T0 + timedelta(days=1),
            reason="x",
            created_by=None,
        )
        check(store, config, [broken("sales-sync")], T0 + timedelta(minutes=1))
        assert [] == teams.accepted_cards()
        store.alerting.remove_silence(silence.id, T0 + timedelta(minutes=5))
        check(store, config, [broken("sales-sync")], T0 + timedelta(minutes=6))
    assert 1 == len(teams.accepted_cards())


def test_acknowledged_incident_stops_reminding_but_still_resolves(
    tmp_path: Path, teams: HttpsReceiver
) -> None:
    """After `ack`, no reminders; the resolved notice still goes out and shows who acked."""
    deployment = write_deployment(
        tmp_path, channels=[{"name": "ops", "urls": [teams.workflows_url(SENTINEL_SIG)]}]
    )
    config = deployment.load()
    with deployment.open_store() as store:
        check(store, config, [broken("sales-sync")], T0)
        check(store, config, [broken("sales-sync")], T0 + timedelta(hours=4, minutes=1))
        assert 2 == len(teams.accepted_cards())  # opened + one reminder
        incident = store.alerting.incidents()[0]
        acked = store.alerting.acknowledge_incident(
            incident.id or 0, at=T0 + timedelta(hours=5), by="bob", note="rotating it"
        )
        assert acked is not None
        for hours in range(6, 30, 2):
            check(store, config, [broken("sales-sync")], T0 + timedelta(hours=hours))
        assert 2 == len(teams.accepted_cards())
        check(store, config, [], T0 + timedelta(hours=31))
        events = [t.event for t in store.alerting.incident_transitions(incident.id)]
    assert "acknowledged" in events
    last = card_text(teams.accepted_cards()[-1])
    assert "RESOLVED" in last.splitlines()[0]
    assert "by bob" in last
