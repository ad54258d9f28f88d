"""The lead-time ladder end to end: findings with a deadline -> incidents -> outbox -> real apprise
-> a Teams Workflows receiver, across repeated checks and a restart on the same database file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from support.notify.alerting import SENTINEL_SIG, T0, finding, write_deployment
from support.notify.receivers import HttpsReceiver, card_text

from monitor.incidents.evaluate import evaluate_findings
from monitor.notify.dispatch import dispatch


def test_each_rung_notified_once_across_checks_and_a_restart(
    tmp_path: Path, teams: HttpsReceiver
) -> None:
    """A client secret expiring in 65 days, checked twice every day with the process
    restarted half way: one Teams card per rung (60, 30, 14, 7, 3, 1 days; each sent at the
    first check past the rung), then one per day while expired; every card names the incident."""
    deployment = write_deployment(
        tmp_path, channels=[{"name": "ops-teams", "urls": [teams.workflows_url(SENTINEL_SIG)]}]
    )
    deadline = T0 + timedelta(days=65, hours=3)  # checks run at 21:00, it at 12:00
    times = [T0 + timedelta(hours=12 + 24 * n) for n in range(68)]
    store = deployment.open_store()
    config = deployment.load()
    try:
        for n, now in enumerate(times):
            if n == len(times) // 2:  # restart: a new process, a new Store on the same file
                store.close()
                store = deployment.open_store()
                config = deployment.load()
            for check in range(2):
                at = now + timedelta(minutes=check)
                evaluate_findings(store, config, [finding(deadline=deadline, observed_at=at)], at)
                dispatch(store, config, at)
        incidents = store.alerting.incidents()
    finally:
        store.close()

    assert 1 == len(incidents)
    label = incidents[0].label
    titles = [card_text(card).splitlines()[0] for card in teams.accepted_cards()]
    assert all(title.startswith(f"[{label}] ") for title in titles)
    phrases = [title.split("expire", 1)[1] for title in titles]
    assert [
        "s in 59 days",
        "s in 29 days",
        "s in 13 days",
        "s in 6 days",
        "s in 2 days",
        "s in 15 hours",
        "d 9 hours ago",
        "d 1 day ago",
        "d 2 days ago",
    ] == phrases
