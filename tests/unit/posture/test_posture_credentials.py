"""Credential expiry tied to the credential in use, and the successor logic."""

from __future__ import annotations

from datetime import timedelta

import pytest
from posture_builders import (
    NOW,
    app_identity,
    config,
    credentials,
    days,
    evaluate,
    findings_of,
    observe,
    only,
    secret,
)

from monitor.config.model import DirectoryConfig
from monitor.findings.posture import (
    Posture,
    Thresholds,
    credential_in_use,
    expiry_level,
)
from monitor.model.findings import FindingKind, Level
from monitor.model.observations import RegisteredCredential
from monitor.pipeline.posture import local_observations

EXPIRING = FindingKind.CREDENTIAL_EXPIRING


def posture_for(*registered: RegisteredCredential, configured: str = "client_secret") -> Posture:
    identity = app_identity()
    fact = credentials(*registered, configured=configured)
    return evaluate(config(identity), observe(fact, identity=identity.name))


@pytest.mark.parametrize(
    ("in_days", "level"),
    [
        (-1, Level.CRITICAL),
        (0.5, Level.CRITICAL),
        (7, Level.CRITICAL),
        (10, Level.WARNING),
        (30, Level.WARNING),
        (31, None),
    ],
)
def test_expiry_level_windows(in_days: float, level: Level | None) -> None:
    """Expired or within 7 days is critical, within 30 days a warning, later nothing."""
    assert level == expiry_level(days(in_days), NOW, Thresholds())


def test_in_use_secret_expiring_without_successor() -> None:
    """The configured secret ends in 10 days and nothing else is registered: a warning to create
    a new secret, deadline = its end."""
    posture = posture_for(secret("k1", days(10), in_use=True, name="prod-2025"))

    finding = only(posture, EXPIRING)
    assert (Level.WARNING, days(10), "graph") == (finding.level, finding.deadline, finding.source)
    assert (
        "client secret 'prod-2025' (in use) expires on 2026-12-06 (in 10 days); no successor is "
        "registered" == finding.summary
    )
    assert finding.remedy.startswith("add a new client secret to app 'Sales sync'")
    assert "credential_expiring:contoso/sales-sync/-:k1" == finding.key


def test_in_use_secret_expiring_with_successor_says_switch_over() -> None:
    """A later secret is registered: the advice is to switch over, under a different key."""
    posture = posture_for(
        secret("k1", days(9), in_use=True, name="old"),
        secret("k2", days(700), name="new", start=days(-1)),
    )

    finding = only(posture, EXPIRING)
    assert "; successor client secret 'new' is registered (ends 2028-10-26)" in finding.summary
    assert finding.remedy.startswith("switch the integration to client secret 'new' before")
    assert finding.key.endswith(":k1:successor")
    assert "k2" == finding.details["successor_key_id"]


def test_the_credential_not_in_use_does_not_decide_the_deadline() -> None:
    """An unused secret expiring tomorrow raises nothing; the one in use (in 200 days) is the
    deadline."""
    posture = posture_for(secret("used", days(200), in_use=True), secret("unused", days(1)))

    assert [] == findings_of(posture, EXPIRING)
    nearest = posture.identities["sales-sync"].nearest
    assert (days(200), "graph") == (nearest.at, nearest.source)


def test_expired_in_use_secret_is_critical_even_with_an_expired_other() -> None:
    """The in-use secret expired yesterday: critical with the past deadline; an older expired
    secret is no successor."""
    posture = posture_for(secret("k1", days(-1), in_use=True), secret("k0", days(-100)))

    finding = only(posture, EXPIRING)
    assert (Level.CRITICAL, days(-1)) == (finding.level, finding.deadline)
    assert "expired on 2026-11-25 (1 day ago); no successor is registered" in finding.summary
    assert "the monitor's configuration now, then delete the old one" in finding.remedy


def test_successor_must_start_before_the_current_one_ends() -> None:
    """A credential that becomes valid only after the current one ends is no successor."""
    verdict = credential_in_use(
        credentials(secret("k1", days(5), in_use=True), secret("k2", days(400), start=days(6))),
        NOW,
    )

    assert ("k1", None) == (verdict.current and verdict.current.key_id, verdict.successor)


def test_never_expiring_successor_counts() -> None:
    """A registered credential without an end date is a successor."""
    verdict = credential_in_use(
        credentials(secret("k1", days(5), in_use=True), secret("k2", None)), NOW
    )

    assert verdict.successor is not None
    assert "k2" == verdict.successor.key_id


def test_certificate_successor_does_not_replace_a_secret() -> None:
    """Successors are of the same type: a certificate is not a drop-in for a secret."""
    verdict = credential_in_use(
        credentials(
            secret("k1", days(5), in_use=True), secret("c1", days(400), kind="certificate")
        ),
        NOW,
    )

    assert verdict.successor is None


def test_shared_hint_assumes_the_earliest_live_candidate() -> None:
    """Two secrets share the hint: the earliest one still valid is assumed, the other is its
    successor, and the summary says it was assumed."""
    posture = posture_for(
        secret("a", days(8), in_use=True, name="a"),
        secret("b", days(300), in_use=True, name="b"),
        secret("c", days(-3), in_use=True, name="c"),
    )

    finding = only(posture, EXPIRING)
    assert "client secret 'a' (in use) (assumed: 3 share its hint)" in finding.summary
    assert finding.key.endswith(":a:successor")


def test_unmatched_configured_secret_warns_and_assumes_the_earliest() -> None:
    """No registered secret matches the configured one: a warning says so, and the earliest
    live secret gives the deadline."""
    posture = posture_for(secret("a", days(20)), secret("b", days(90)))

    found = findings_of(posture, EXPIRING)
    assert ["a:successor", "unmatched"] == sorted(f.key.split("/-:")[-1] for f in found)
    unmatched = next(f for f in found if f.key.endswith(":unmatched"))
    assert (
        "none of the 2 client secrets registered on app 'Sales sync' is the configured one"
        == unmatched.summary
    )
    expiring = next(f for f in found if not f.key.endswith(":unmatched"))
    assert "(assumed: the configured one matched none)" in expiring.summary


def test_app_without_any_secret_of_the_configured_type() -> None:
    """An app without secrets, configured with a secret: the warning says none is registered."""
    posture = posture_for(secret("c1", days(100), kind="certificate"))

    finding = only(posture, EXPIRING)
    assert "app 'Sales sync' has no client secret registered" == finding.summary


def test_in_use_certificate_expiring() -> None:
    """A certificate in use ending in 3 days is critical, with the certificate remedy."""
    posture = posture_for(
        secret("c1", days(3), in_use=True, kind="certificate", name="CN=erp"),
        configured="certificate",
    )

    finding = only(posture, EXPIRING)
    assert (Level.CRITICAL, days(3)) == (finding.level, finding.deadline)
    assert finding.summary.startswith("certificate 'CN=erp' (in use) expires on 2026-11-29")
    assert finding.remedy.startswith("upload a renewed certificate")


def test_thresholds_come_from_the_directory_configuration() -> None:
    """[directory] expiry windows change when an expiry becomes a warning or critical."""
    identity = app_identity()
    cfg = config(
        identity, directory=DirectoryConfig(expiry_warning_days=60, expiry_critical_days=14)
    )
    posture = evaluate(
        cfg, observe(credentials(secret("k1", days(45), in_use=True)), identity=identity.name)
    )

    assert Level.WARNING == only(posture, EXPIRING).level


def test_certificate_file_not_after() -> None:
    """The configured certificate file's notAfter is a deadline of its own (source
    "certificate file"), critical 3 days out."""
    identity = app_identity("erp", certificate_not_after=days(3))
    cfg = config(identity)
    posture = evaluate(cfg, *local_observations(cfg, NOW))

    finding = only(posture, EXPIRING, "erp")
    assert (Level.CRITICAL, days(3), "certificate file") == (
        finding.level,
        finding.deadline,
        finding.source,
    )
    assert finding.remedy.startswith("renew the certificate")
    assert "certificate file" == posture.identities["erp"].nearest.source  # type: ignore[union-attr]


def test_declared_expiry_names_its_source() -> None:
    """A declared expiry counts like any other, and the report says where the date came from."""
    identity = app_identity("vendor", declared=days(20), declared_source="vendor portal")
    cfg = config(identity)
    posture = evaluate(cfg, *local_observations(cfg, NOW))

    finding = only(posture, EXPIRING, "vendor")
    assert "configuration (vendor portal)" == finding.source
    assert finding.summary.startswith(
        "the credential (declared in the configuration (vendor portal))"
    )


def test_nearest_deadline_is_the_earliest_of_all_sources() -> None:
    """Graph, certificate file and declaration all give deadlines; the earliest is nearest."""
    identity = app_identity("erp", certificate_not_after=days(50), declared=days(70))
    cfg = config(identity)
    graph = observe(
        credentials(
            secret("c1", days(60), in_use=True, kind="certificate"), configured="certificate"
        ),
        identity="erp",
    )
    posture = evaluate(cfg, graph, *local_observations(cfg, NOW))

    assert [days(50), days(60), days(70)] == [d.at for d in posture.identities["erp"].deadlines]
    assert ["certificate file", "graph", "configuration"] == [
        d.source for d in posture.identities["erp"].deadlines
    ]


def test_observer_credential_expiry_has_no_identity() -> None:
    """The observer's own secret expiring is reported for the tenant, with its remedy."""
    cfg = config(app_identity())
    observer = observe(credentials(secret("o1", days(5), in_use=True)), subject="observer")
    posture = evaluate(cfg, observer)

    finding = only(posture, EXPIRING)
    assert (None, "contoso", Level.CRITICAL) == (finding.identity, finding.tenant, finding.level)
    assert finding.summary.startswith("the monitor's observer client secret 'o1' (in use)")
    assert "tenants.contoso.observer" in finding.remedy


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=9) - timedelta(minutes=1), "in 8 days"),
        (timedelta(days=9, hours=13), "in 9 days"),
        (timedelta(hours=5, minutes=30), "in 5 hours"),
        (timedelta(minutes=20), "in 20 minutes"),
        (-timedelta(hours=3), "3 hours ago"),
        (-timedelta(days=2, hours=1), "2 days ago"),
    ],
)
def test_posture_days_are_whole_days_rounded_down(delta: timedelta, text: str) -> None:
    """A finding's summary counts days like every other view: whole days rounded down (a secret
    made to last 9 days reads "in 8 days" a minute later), hours under a day."""
    posture = posture_for(secret("k1", NOW + delta, in_use=True, name="prod-2025"))
    assert f"({text})" in only(posture, EXPIRING).summary
