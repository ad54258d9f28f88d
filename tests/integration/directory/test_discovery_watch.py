"""Posture-only watching (``[discovery] watch = "posture"``) through the daemon's real jobs
against the simulator: a discovered identity's expiring secret becomes a finding and an
incident without any sign-in as it; a new application user yields one "new identity" finding;
a vanished one is noted; a configured identity appears once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.cycles import Cycles
from support.notify.receivers import SmtpReceiver
from support.posture import APP, CERT_APP, ENVIRONMENT, write_config

from monitor.config import ConfigError, load_config
from monitor.model.discovery import watch_name
from monitor.model.incidents import IncidentRecord
from monitor.simulator import Simulator
from monitor.simulator.scenario import Application
from monitor.store import Store

WATCH = '[discovery]\nwatch = "posture"\n[directory]\ninterval_hours = 0.1\n'
ERP = watch_name("application user", "ERP connector", CERT_APP)
NEW_APP = "7a0e4fc8-9c7b-4e1d-8f2a-3b4c5d6e7f80"


@pytest.fixture
def cycles(tmp_path: Path, sim: Simulator) -> Iterator[Cycles]:
    config = write_config(tmp_path / "deploy", sim, identities=("sales-sync",), extra=WATCH)
    with Store.open(tmp_path / "monitor.db") as store:
        yield Cycles(config, store)


def of_identity(incidents: list[IncidentRecord], name: str) -> list[tuple[str, str]]:
    return sorted((i.kind, i.level) for i in incidents if i.identity == name)


def test_an_expiring_secret_of_an_unconfigured_app_is_an_incident_without_a_sign_in(
    cycles: Cycles, sim: Simulator
) -> None:
    """The unconfigured application user's secret ending in 5 days opens a critical
    credential-expiring incident marked "discovered (not probed)"; the simulator received no
    token request for that app, and the observer's and the configured app's as usual."""
    sim.add_secret(
        CERT_APP,
        "eRp8Q~watched-but-never-used-secret-00",
        datetime.now(UTC) + timedelta(days=5),
        display_name="erp 2025",
    )

    cycles.daemon(minutes=3)
    incidents = cycles.incidents()
    expiring = [i for i in incidents if i.identity == ERP]

    assert [("credential_expiring", "critical")] == of_identity(incidents, ERP)
    assert "[discovered (not probed)]" in expiring[0].summary
    assert 0 == sim.request_count("token", client_id=CERT_APP)
    assert 0 < sim.request_count("token", client_id=APP)


def test_a_configured_identity_is_watched_once(cycles: Cycles, sim: Simulator) -> None:
    """The configured app (also discovered) has its incidents under its configured name only:
    no watched identity stands for it."""
    cycles.daemon(minutes=3)
    names = {i.identity for i in cycles.incidents()}

    assert watch_name("application user", "Sales sync", APP) not in names
    assert "sales-sync" in names


def test_a_new_application_user_yields_one_new_identity_finding(
    cycles: Cycles, sim: Simulator
) -> None:
    """An application user added while the daemon runs is announced once ("new integration
    identity in prod"), however many evaluations and directory reads follow; none is announced
    for those there from the start."""
    cycles.daemon(minutes=3)
    with sim.scenario.lock:
        sim.scenario.add_application(
            Application(client_id=NEW_APP, tenant="posture", display_name="Late ETL")
        )
    sim.add_member(ENVIRONMENT, client_id=NEW_APP, roles=["ETL"])

    cycles.daemon(minutes=20)  # three directory reads after it appeared
    new = [
        i
        for i in cycles.incidents(open_only=False)
        if i.summary.startswith("new integration identity")
    ]

    assert 1 == len(new), [i.summary for i in new]
    assert new[0].summary.startswith(
        f"new integration identity in prod: application user 'Late ETL' ({NEW_APP})"
    )
    assert "info" == new[0].level


def test_a_vanished_application_user_is_noted_and_its_incidents_resolve(
    cycles: Cycles, sim: Simulator
) -> None:
    """An unconfigured application user removed from the environment is noted ("gone from
    prod"), and the incidents of its posture resolve."""
    sim.add_secret(
        CERT_APP,
        "eRp8Q~watched-but-never-used-secret-00",
        datetime.now(UTC) + timedelta(days=5),
        display_name="erp 2025",
    )
    cycles.daemon(minutes=3)
    sim.remove_member(ENVIRONMENT, client_id=CERT_APP)

    cycles.daemon(minutes=10)
    incidents = cycles.incidents()

    assert [] == of_identity(incidents, ERP)
    assert [
        f"integration identity gone from prod: application user 'ERP connector' ({CERT_APP})"
    ] == [
        i.summary.split(" is no longer", 1)[0]
        for i in incidents
        if i.summary.startswith("integration identity gone")
    ]


def test_an_unknown_watch_mode_is_refused_naming_the_key(tmp_path: Path, sim: Simulator) -> None:
    """`watch = "always"` is a configuration error naming discovery.watch and the choices."""
    config = write_config(tmp_path / "deploy", sim, identities=("sales-sync",))
    path = config.source
    path.write_text(path.read_text() + '\n[discovery]\nwatch = "always"\n')

    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})

    assert ['discovery.watch: expected one of "off", "posture", found "always"'] == [
        line.strip().split("; hint")[0] for line in raised.value.render().splitlines()[1:]
    ]


@pytest.fixture
def mailbox() -> Iterator[SmtpReceiver]:
    """An SMTP server on loopback that records what it accepts."""
    receiver = SmtpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


def test_the_notice_of_a_watched_identity_is_delivered_marked(
    tmp_path: Path, sim: Simulator, mailbox: SmtpReceiver
) -> None:
    """The expiring secret of the unconfigured app reaches the email channel (real apprise,
    local SMTP) as a notice naming the watched identity and marked "discovered (not
    probed)"."""
    sim.add_secret(
        CERT_APP,
        "eRp8Q~watched-but-never-used-secret-00",
        datetime.now(UTC) + timedelta(days=5),
        display_name="erp 2025",
    )
    channel = f"""
[[channels]]
name = "ops-email"
urls = ["{mailbox.url()}"]
severities = ["critical"]
"""
    config = write_config(
        tmp_path / "deploy", sim, identities=("sales-sync",), extra=WATCH + channel
    )
    with Store.open(tmp_path / "monitor.db") as store:
        Cycles(config, store).daemon(minutes=3)

    mails = mailbox.wait_for(1)
    text = "\n".join(
        str(part.get_content())
        for mail in mails
        for part in mail.message.walk()
        if part.get_content_type() == "text/plain"
    )
    lines = [line for line in text.splitlines() if "erp 2025" in line]

    assert 1 == len(mails)
    assert ERP in text
    assert any("[discovered (not probed)]" in line for line in lines), text
    assert "eRp8Q" not in text


def test_an_environment_that_cannot_be_listed_keeps_what_was_discovered(
    cycles: Cycles, sim: Simulator
) -> None:
    """Dataverse failing (HTTP 500) in later reads: nothing is taken for gone, and the watched
    identity's incident stays open."""
    sim.add_secret(
        CERT_APP,
        "eRp8Q~watched-but-never-used-secret-00",
        datetime.now(UTC) + timedelta(days=5),
        display_name="erp 2025",
    )
    cycles.daemon(minutes=3)
    sim.set_fault("dataverse", "http_500")

    cycles.daemon(minutes=20)  # three more reads, each failing
    incidents = cycles.incidents()

    assert ("credential_expiring", "critical") in of_identity(incidents, ERP)
    assert [] == [i.summary for i in incidents if i.summary.startswith("integration identity gone")]
