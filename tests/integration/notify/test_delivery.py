"""The durable outbox with real apprise and real receivers: retries with backoff, per-URL
delivery, dead letters and the fallback channel, grouping, supersession, lease recovery."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

from support.notify.alerting import SENTINEL_SIG, T0, finding, write_deployment
from support.notify.receivers import HttpsReceiver, SmtpReceiver, card_text

from monitor.config import Config
from monitor.config.model import DeliveryConfig
from monitor.incidents.evaluate import evaluate_findings
from monitor.model.findings import Finding, FindingKind, Level
from monitor.model.outbox import NewOutbox
from monitor.notify.dispatch import dispatch, retry_delay
from monitor.store import Store

ALERTS = """
[alerts.delivery]
retry_initial_seconds = 10
retry_max_seconds = 300
give_up_after_minutes = 60
"""


def broken(identity: str = "sales-sync", subject_id: str = "probe") -> Finding:
    return finding(
        identity,
        kind=FindingKind.CREDENTIAL_BROKEN,
        level=Level.CRITICAL,
        subject="the client secret configured for " + identity,
        summary="the credential was rejected (AADSTS7000215)",
        subject_id=subject_id,
    )


def run_until(
    store: Store, config: Config, start: datetime, minutes: int, step_seconds: int = 15
) -> None:
    """Dispatch every *step_seconds* of simulated time for *minutes*."""
    rng = random.Random(7)
    now = start
    while now <= start + timedelta(minutes=minutes):
        dispatch(store, config, now, rng=rng)
        now += timedelta(seconds=step_seconds)


def test_channel_down_then_up_delivers_once_while_email_goes_at_once(
    tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """Teams answers 500 to the first five tries, then 202: the e-mail channel has the notice at
    the first dispatch, Teams exactly once after it recovers; the retries back off (growing,
    jittered gaps) and every try is recorded."""
    deployment = write_deployment(
        tmp_path,
        alerts=ALERTS,
        channels=[
            {"name": "ops-teams", "urls": [teams.workflows_url(SENTINEL_SIG)]},
            {"name": "ops-email", "urls": [mailbox.url()]},
        ],
    )
    config = deployment.load()
    teams.answer([500] * 5)
    with deployment.open_store() as store:
        evaluate_findings(store, config, [broken()], T0)
        dispatch(store, config, T0)
        assert 1 == len(mailbox.wait_for(1))
        assert 0 == len(teams.accepted_cards())
        run_until(store, config, T0, minutes=20)
        rows = {row.channel: row for row in store.alerting.outbox()}
        attempts = store.alerting.delivery_attempts(rows["ops-teams"].id)

    assert 1 == len(mailbox.messages)
    assert 1 == len(teams.accepted_cards())
    assert 6 == len(teams.requests)
    assert [False] * 5 + [True] == [a.ok for a in attempts]
    assert {"HTTP 500"} == {a.error for a in attempts if not a.ok}
    assert ("sent", "sent") == (rows["ops-teams"].status, rows["ops-email"].status)
    gaps = [(b.at - a.at).total_seconds() for a, b in pairwise(attempts)]
    assert gaps == sorted(gaps)  # backing off
    assert gaps[0] >= 5  # half the initial delay at least


def test_retry_delay_grows_with_jitter_and_is_capped() -> None:
    """Each step doubles from the initial delay up to the cap; half of it is random."""
    delivery = DeliveryConfig()
    rng = random.Random(1)
    delays = [retry_delay(n, delivery, rng).total_seconds() for n in range(1, 12)]
    steps = [min(10 * 2 ** (n - 1), 900) for n in range(1, 12)]
    assert all(step / 2 <= d <= step for d, step in zip(delays, steps, strict=True))
    assert max(delays) <= 900


def test_a_channel_that_never_recovers_is_dead_lettered_and_the_fallback_told(
    tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """Teams answers 400 forever: after the maximum age the notice is dead and the fallback
    e-mail channel receives one "channel failing" message carrying the lost notice."""
    deployment = write_deployment(
        tmp_path,
        alerts=ALERTS,
        channels=[
            {
                "name": "ops-teams",
                "urls": [teams.workflows_url(SENTINEL_SIG)],
                "fallback": "ops-email",
            },
            {"name": "ops-email", "urls": [mailbox.url()], "severities": ["info"]},
        ],
    )
    config = deployment.load()
    teams.answer(default=400)
    with deployment.open_store() as store:
        evaluate_findings(store, config, [broken()], T0)
        label = store.alerting.incidents()[0].label
        run_until(store, config, T0, minutes=70, step_seconds=60)
        rows = store.alerting.outbox()
    statuses = {(row.channel, row.event): row.status for row in rows}
    assert {
        ("ops-teams", "opened"): "dead",
        ("ops-email", "channel_failing"): "sent",
    } == statuses
    mails = mailbox.wait_for(1)
    assert 1 == len(mails)
    assert "Channel ops-teams is failing" in mails[0].subject
    assert label in mails[0].subject
    body = mails[0].part("text/plain")
    assert "HTTP 400" in body
    assert "the credential was rejected" in body  # the lost notice itself
    assert 0 == len(teams.accepted_cards())


def test_twenty_incidents_in_one_cycle_go_out_as_one_message_per_channel(
    tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """Twenty incidents (twenty identities' expiring secrets) opening in one evaluation give one
    Teams card and one e-mail, each listing all twenty incident ids; a single new critical
    afterwards goes out on its own."""
    deployment = write_deployment(
        tmp_path,
        channels=[
            {"name": "ops-teams", "urls": [teams.workflows_url(SENTINEL_SIG)]},
            {"name": "ops-email", "urls": [mailbox.url()]},
        ],
    )
    config = deployment.load()
    findings = [
        finding(
            f"integration-{n:02d}",
            deadline=T0 + timedelta(days=5 + n),
            subject=f"client secret 'key-{n}'",
            subject_id=f"secret-{n}",
        )
        for n in range(20)
    ]
    with deployment.open_store() as store:
        evaluate_findings(store, config, findings, T0)
        dispatch(store, config, T0)
        labels = sorted(i.label for i in store.alerting.incidents())
        evaluate_findings(store, config, [*findings, broken()], T0 + timedelta(minutes=5))
        dispatch(store, config, T0 + timedelta(minutes=5))
        critical = next(i.label for i in store.alerting.incidents() if i.level == "critical")

    assert 20 == len(labels)
    cards = teams.accepted_cards()
    mails = mailbox.wait_for(2)
    assert (2, 2) == (len(cards), len(mails))
    digest_card, digest_mail = card_text(cards[0]), mails[0]
    assert digest_card.splitlines()[0].endswith(
        "] 20 warning: integration-00, integration-01, integration-02, +17 more"
    )
    for label in labels:
        assert label in digest_card
        assert label in digest_mail.part("text/html")
        assert label in digest_mail.part("text/plain")
    assert card_text(cards[1]).startswith(f"[{critical}] CRITICAL sales-sync")
    assert mails[1].subject.startswith("sales-sync: ")
    assert mails[1].subject.endswith(f" [{critical} critical]")


def test_a_url_that_has_the_message_is_not_sent_it_again(
    tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """A channel with an e-mail and a Teams URL: Teams fails twice; the retries go to Teams
    only, so the mailbox gets the notice exactly once."""
    deployment = write_deployment(
        tmp_path,
        channels=[
            {"name": "ops", "urls": [mailbox.url(), teams.workflows_url(SENTINEL_SIG)]},
        ],
    )
    config = deployment.load()
    teams.answer([503, 503])
    with deployment.open_store() as store:
        evaluate_findings(store, config, [broken()], T0)
        run_until(store, config, T0, minutes=5)
        row = store.alerting.outbox()[0]
    assert ("sent", 0b11) == (row.status, row.delivered_urls)
    assert 1 == len(mailbox.wait_for(1))
    assert 3 == len(teams.requests)


def test_resolved_before_delivery_supersedes_the_opening_notice(
    tmp_path: Path, teams: HttpsReceiver
) -> None:
    """An incident that clears while its opening notice still waits for a failing channel:
    the opening notice is superseded and one resolved notice says it failed and recovered."""
    deployment = write_deployment(
        tmp_path, channels=[{"name": "ops-teams", "urls": [teams.workflows_url(SENTINEL_SIG)]}]
    )
    config = deployment.load()
    teams.answer([500])
    with deployment.open_store() as store:
        evaluate_findings(store, config, [broken()], T0)
        dispatch(store, config, T0)
        evaluate_findings(store, config, [], T0 + timedelta(minutes=10))
        run_until(store, config, T0 + timedelta(minutes=10), minutes=2)
        statuses = [(row.event, row.status) for row in store.alerting.outbox()]
    assert [("opened", "superseded"), ("resolved", "sent")] == statuses
    cards = teams.accepted_cards()
    assert 1 == len(cards)
    text = card_text(cards[0])
    assert "RESOLVED" in text.splitlines()[0]
    assert "failed and recovered" in text


def test_a_sender_that_died_mid_send_is_recovered_after_its_lease(
    tmp_path: Path, teams: HttpsReceiver
) -> None:
    """A row claimed by a sender that never reported back is sent again once its lease has
    expired, not before."""
    deployment = write_deployment(
        tmp_path, channels=[{"name": "ops-teams", "urls": [teams.workflows_url(SENTINEL_SIG)]}]
    )
    config = deployment.load()
    lease = timedelta(seconds=config.alerts.delivery.lease_seconds)
    with deployment.open_store() as store:
        evaluate_findings(store, config, [broken()], T0)
        claimed = store.alerting.claim_outbox("ops-teams", T0, T0 + lease, limit=10)
        assert 1 == len(claimed)
        report = dispatch(store, config, T0 + lease / 2)
        assert (0, ()) == (report.recovered, report.deliveries)
        report = dispatch(store, config, T0 + lease + timedelta(seconds=1))
        row = store.alerting.outbox()[0]
    assert 1 == report.recovered
    assert ("sent", 2) == (row.status, row.attempts)
    assert 1 == len(teams.accepted_cards())


def test_writing_the_same_notice_twice_keeps_one_row(tmp_path: Path) -> None:
    """The outbox key (incident, event, channel) makes a replayed enqueue a no-op."""
    deployment = write_deployment(
        tmp_path, channels=[{"name": "ops", "urls": ["json://127.0.0.1:9/"]}]
    )
    config = deployment.load()
    with deployment.open_store() as store:
        evaluate_findings(store, config, [broken()], T0)
        row = store.alerting.outbox()[0]
        with store.alerting.unit() as unit:
            written = unit.enqueue(
                [
                    NewOutbox(
                        dedup_key=row.dedup_key,
                        channel=row.channel,
                        incident_id=row.incident_id,
                        event=row.event,
                        level=row.level,
                        notice=row.notice,
                        not_before=T0,
                    )
                ],
                T0,
            )
        assert (0, 1) == (written, len(store.alerting.outbox()))
