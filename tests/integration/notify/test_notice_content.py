"""What arrives reads right, through real apprise to the real receivers: a resolved notice is
green, says how long it lasted and carries no remedy; an e-mail subject starts with the identity
and the cause and stays under 80 characters; the e-mail's plain-text part carries the portal
link; a digest's title and subject name the identities."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from support.notify.alerting import SENTINEL_SIG, T0, AlertingDeployment, finding, write_deployment
from support.notify.receivers import HttpsReceiver, SmtpReceiver, card_text

from monitor.config import Config
from monitor.incidents.evaluate import evaluate_findings
from monitor.model.findings import Finding, FindingKind, Level
from monitor.notify.dispatch import dispatch
from monitor.notify.notice import portal_link


def broken(identity: str) -> Finding:
    return finding(
        identity,
        kind=FindingKind.CREDENTIAL_BROKEN,
        level=Level.CRITICAL,
        subject="the client secret configured for " + identity,
        summary="the credential was rejected (AADSTS7000215); the integration cannot sign in",
        subject_id="probe",
    )


def deploy(tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver) -> AlertingDeployment:
    return write_deployment(
        tmp_path,
        channels=[
            {"name": "ops-teams", "urls": [teams.workflows_url(SENTINEL_SIG)]},
            {"name": "ops-email", "urls": [mailbox.url()]},
        ],
    )


def portal_of(config: Config, deployment: AlertingDeployment, label: str) -> str:
    with deployment.open_store() as store:
        incident = next(i for i in store.alerting.incidents() if i.label == label)
    return portal_link(incident, config)[0]


def test_a_resolved_notice_arrives_green_with_its_duration_and_no_remedy(
    tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """An incident open 3 h 12 min: its resolved card is green, says how long it lasted and
    what was wrong, and has no "what to do"; both e-mails' subjects start with the identity
    and the cause, stay under 80 characters, and their plain-text parts carry the portal
    address."""
    deployment = deploy(tmp_path, teams, mailbox)
    config = deployment.load()
    resolved_at = T0 + timedelta(hours=3, minutes=12)
    with deployment.open_store() as store:
        evaluate_findings(store, config, [broken("sales-sync")], T0)
        dispatch(store, config, T0)
        evaluate_findings(store, config, [], resolved_at)
        dispatch(store, config, resolved_at)
        [label] = [i.label for i in store.alerting.incidents()]
    portal = portal_of(config, deployment, label)

    cards = teams.accepted_cards()
    mails = mailbox.wait_for(2)
    assert (2, 2) == (len(cards), len(mails))
    opened_card, resolved_card = cards
    assert ("Attention", "Good") == (
        opened_card["body"][0]["color"],
        resolved_card["body"][0]["color"],
    )
    text = card_text(resolved_card)
    assert text.startswith(f"[{label}] RESOLVED sales-sync: ")
    assert "Lasted 3 h 12 min: opened 1 Dec 2026 09:00 UTC, resolved 1 Dec 2026 12:12 UTC" in text
    assert "What was wrong" in text
    assert "AADSTS7000215" in text
    assert "What to do" not in text
    assert "What the integration will experience" not in text
    assert "What to do" in card_text(opened_card)

    opened_mail, resolved_mail = mails
    assert (
        f"sales-sync: the credential was rejected (AADSTS7000215) [{label} critical]"
        == opened_mail.subject
    )
    assert resolved_mail.subject.startswith("sales-sync: the credential was rejected")
    assert resolved_mail.subject.endswith(f" [{label} resolved]")
    for mail in mails:
        assert len(mail.subject) < 80
        assert portal in mail.part("text/plain")
    assert "#107c10" in resolved_mail.part("text/html")
    assert "What to do" not in resolved_mail.part("text/plain")
    assert "Identity: sales-sync" in resolved_mail.part("text/plain")


def test_a_long_cause_is_shortened_in_the_subject_never_the_identity_or_the_id(
    tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """A secret with a long display name: the delivered subject keeps the identity first and
    the id and level last, and shortens the cause with an ellipsis to stay under 80."""
    deployment = deploy(tmp_path, teams, mailbox)
    config = deployment.load()
    name = "client secret 'nightly order export to the warehouse, owned by finance ops'"
    expiring = finding("sales-sync", deadline=T0 + timedelta(days=20), subject=name)
    with deployment.open_store() as store:
        evaluate_findings(store, config, [expiring], T0)
        dispatch(store, config, T0)
        [label] = [i.label for i in store.alerting.incidents()]

    [mail] = mailbox.wait_for(1)
    assert len(mail.subject) < 80
    assert mail.subject.startswith("sales-sync: client secret 'nightly order export")
    assert mail.subject.endswith(f"… [{label} warning]")
    assert card_text(teams.accepted_cards()[0]).startswith(f"[{label}] WARNING sales-sync: ")


def test_a_digest_names_the_identities_in_its_title_and_subject(
    tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """Two identities broken in one cycle: one card whose title is the ids then "2 critical:"
    and both names, one e-mail whose subject starts with both names; its plain-text part
    carries each portal address."""
    deployment = deploy(tmp_path, teams, mailbox)
    config = deployment.load()
    with deployment.open_store() as store:
        evaluate_findings(store, config, [broken("sales-sync"), broken("inventory-sync")], T0)
        dispatch(store, config, T0)
        incidents = sorted(store.alerting.incidents(), key=lambda incident: incident.id or 0)
    (first, one), (second, other) = [(i.label, i.identity) for i in incidents]

    [card] = teams.accepted_cards()
    [mail] = mailbox.wait_for(1)
    assert {one, other} == {"sales-sync", "inventory-sync"}
    assert f"[{first}, {second}] 2 critical: {one}, {other}" == card_text(card).splitlines()[0]
    assert f"{one}, {other}: 2 critical [{first}, {second}]" == mail.subject
    plain = mail.part("text/plain")
    for label in (first, second):
        assert portal_of(config, deployment, label) in plain
