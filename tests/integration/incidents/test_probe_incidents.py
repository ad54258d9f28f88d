"""Probe outcomes over simulated time -> findings -> incidents -> real delivery: blips stay quiet,
an identity-provider outage gives one "cannot verify" per tenant, a definitive failure is
critical at once, and everything resolves after two successes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.notify.alerting import (
    SENTINEL_SIG,
    T0,
    AlertingDeployment,
    IdentitySpec,
    probe,
    record,
    write_deployment,
)
from support.notify.receivers import HttpsReceiver, SmtpReceiver, card_text

from monitor.config import Config
from monitor.model.outcomes import Outcome
from monitor.pipeline import steps
from monitor.pipeline.steps import CycleContext
from monitor.store import Store

IDENTITIES = (
    IdentitySpec("sales-sync", tags=("sales",)),
    IdentitySpec("inventory-sync"),
    IdentitySpec("finance-sync"),
    IdentitySpec("gov-a", tenant="fabrikam", environments=("fabrikam-prod",)),
    IdentitySpec("gov-b", tenant="fabrikam", environments=("fabrikam-prod",)),
)


@pytest.fixture
def deployment(tmp_path: Path, teams: HttpsReceiver, mailbox: SmtpReceiver) -> AlertingDeployment:
    return write_deployment(
        tmp_path,
        identities=IDENTITIES,
        channels=[
            {"name": "ops-teams", "urls": [teams.workflows_url(SENTINEL_SIG)]},
            {"name": "ops-email", "urls": [mailbox.url()]},
        ],
    )


@pytest.fixture
def opened(deployment: AlertingDeployment) -> Iterator[tuple[Store, Config]]:
    store = deployment.open_store()
    try:
        yield store, deployment.load()
    finally:
        store.close()


def cycle(
    store: Store,
    config: Config,
    at: datetime,
    outcomes: dict[str, Outcome],
) -> None:
    """One check: every identity probed at *at* with its outcome (default ok), then alerting."""
    results = []
    for spec in IDENTITIES:
        results.append(
            probe(
                spec.name,
                at,
                outcomes.get(spec.name, Outcome.OK),
                environment=spec.environments[0],
                tenant=spec.tenant,
                aadsts_code=7000215
                if outcomes.get(spec.name) is Outcome.CREDENTIAL_INVALID
                else None,
            )
        )
    record(store, results, at)
    context = CycleContext.build(config, store, fingerprint_key=bytes(32))
    steps.evaluate(context, at + timedelta(seconds=2))
    steps.dispatch(context, at + timedelta(seconds=2))


def everyone(outcome: Outcome) -> dict[str, Outcome]:
    return {spec.name: outcome for spec in IDENTITIES}


def test_a_blip_of_two_failed_cycles_sends_nothing(
    opened: tuple[Store, Config], teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """Every identity unreachable for two cycles five minutes apart, then healthy: no incident,
    no outbox row, nothing received."""
    store, config = opened
    plan = [{}, everyone(Outcome.UNREACHABLE), everyone(Outcome.SERVICE_ERROR), {}, {}, {}]
    for n, outcomes in enumerate(plan):
        cycle(store, config, T0 + timedelta(minutes=5 * n), outcomes)
    assert [] == store.alerting.incidents()
    assert [] == store.alerting.outbox()
    assert [] == teams.requests
    assert [] == mailbox.messages


def test_idp_outage_gives_one_cannot_verify_per_tenant(
    opened: tuple[Store, Config], teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """Every identity of both tenants unreachable for 30 simulated minutes: one "cannot verify"
    incident per tenant, announced in one message per channel, and resolved after two healthy
    cycles; no per-identity incident at any point. (Throttled answers count as transient for
    the probe rules too, but they are also usage evidence: tests/unit/usage covers those.)"""
    store, config = opened
    outage = everyone(Outcome.UNREACHABLE)
    minutes = range(0, 35, 5)
    for n in minutes:
        cycle(store, config, T0 + timedelta(minutes=n), outage)
    incidents = store.alerting.incidents(open_only=True)
    assert [("cannot_verify", None, "warning")] * 2 == [
        (i.kind, i.identity, i.level) for i in incidents
    ]
    assert {"contoso", "fabrikam"} == {i.tenant for i in incidents}
    first = min(i.opened_at for i in incidents)
    assert first >= T0 + timedelta(minutes=10)  # three failures spanning ten minutes

    cards = teams.accepted_cards()
    mails = mailbox.wait_for(1)
    assert 1 == len(cards)
    assert 1 == len(mails)
    labels = sorted(i.label for i in incidents)
    for label in labels:
        assert label in card_text(cards[0])
        assert label in mails[0].subject
        assert label in mails[0].part("text/plain")

    for n in (35, 40):
        cycle(store, config, T0 + timedelta(minutes=n), {})
    assert [] == store.alerting.incidents(open_only=True)
    assert 2 == len(store.alerting.incidents())
    assert 2 == len(teams.accepted_cards())  # the resolved digest
    resolved = card_text(teams.accepted_cards()[1]).splitlines()[0]
    assert resolved.endswith("] 2 resolved: tenant contoso, tenant fabrikam")


def test_one_identity_unreachable_is_its_own_incident(
    opened: tuple[Store, Config], teams: HttpsReceiver
) -> None:
    """When the rest of the tenant is fine, a sustained transient failure of one identity opens
    a "cannot verify" incident for that identity only."""
    store, config = opened
    for n in range(0, 20, 5):
        cycle(store, config, T0 + timedelta(minutes=n), {"inventory-sync": Outcome.SERVICE_ERROR})
    incidents = store.alerting.incidents()
    assert [("cannot_verify", "inventory-sync")] == [(i.kind, i.identity) for i in incidents]
    assert 1 == len(teams.accepted_cards())


def test_definitive_failure_is_critical_at_once_and_resolves_after_two_successes(
    opened: tuple[Store, Config], teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """A rejected secret opens a critical incident at the first cycle, delivered at once to
    both channels; one success keeps it open, the second resolves it."""
    store, config = opened
    cycle(store, config, T0, {"sales-sync": Outcome.CREDENTIAL_INVALID})
    incidents = store.alerting.incidents(open_only=True)
    assert [("credential_broken", "sales-sync", "critical")] == [
        (i.kind, i.identity, i.level) for i in incidents
    ]
    label = incidents[0].label
    cards = teams.accepted_cards()
    assert 1 == len(cards)
    text = card_text(cards[0])
    assert text.startswith(f"[{label}] CRITICAL sales-sync")
    assert "AADSTS7000215" in text
    assert "crm-team@example.com" in text
    assert "contoso-prod" in text
    assert "Credentials/appId/" in text  # the link to the app registration's secrets
    assert 1 == len(mailbox.wait_for(1))

    cycle(store, config, T0 + timedelta(minutes=15), {})
    assert 1 == len(store.alerting.incidents(open_only=True))
    cycle(store, config, T0 + timedelta(minutes=30), {})
    assert [] == store.alerting.incidents(open_only=True)
    assert f"[{label}] RESOLVED" in card_text(teams.accepted_cards()[-1])
