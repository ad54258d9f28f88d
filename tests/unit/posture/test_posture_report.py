"""The posture output: nearest deadline per identity, findings with remedies, JSON."""

from __future__ import annotations

import json

from posture_builders import (
    ENVIRONMENT,
    NOW,
    app_identity,
    config,
    credentials,
    days,
    evaluate,
    missing,
    observe,
    secret,
    user_identity,
)

from monitor.config.model import Config
from monitor.findings.posture import Posture, evaluate_posture
from monitor.model.observations import (
    CertificateFile,
    NonInteractiveUsers,
    ServicePlan,
    SubscribedSku,
)
from monitor.output.posture import (
    nearest_text,
    posture_exit_code,
    posture_to_dict,
    render_posture_text,
)
from monitor.pipeline.posture import merged_observations

REASON = "no observer is configured for tenant contoso (tenants.contoso.observer)"


def sample() -> tuple[Posture, Config]:
    app = app_identity()
    user = user_identity()
    cfg = config(app, user)
    posture = evaluate(
        cfg,
        observe(credentials(secret("k1", days(9), in_use=True, name="invoice")), identity=app.name),
        missing("user_account", "no_observer", REASON, identity=user.name),
        observe(
            SubscribedSku(
                "s1",
                "DYN365_ENTERPRISE_SALES",
                5,
                4,
                applies_to="User",
                service_plans=(ServicePlan("POWERAPPS_DYN_APPS"),),
            ),
            subject="s1",
        ),
        observe(
            SubscribedSku("s2", "FLOW_FREE", 10000, 3, applies_to="User", service_plans=()),
            subject="s2",
        ),
        observe(NonInteractiveUsers(7), environment=ENVIRONMENT, source="dataverse"),
    )
    return posture, cfg


def test_nearest_deadline_or_why_not_observed() -> None:
    """An identity shows what expires first and where the date is from; one whose facts could
    not be read says "not observed: <why>", never nothing."""
    posture, _ = sample()

    assert "2026-12-05 (in 9 days) [graph]: client secret 'invoice' (in use)" == nearest_text(
        posture.identities["sales-sync"], NOW
    )
    assert f"not observed: {REASON}" == nearest_text(posture.identities["crm-import"], NOW)


def test_text_output_lists_identities_capacity_and_findings_with_remedies() -> None:
    """The text has one row per identity, SKUs, non-interactive users and every finding with
    its fix line."""
    posture, cfg = sample()

    text = render_posture_text(posture, cfg, NOW)

    lines = text.splitlines()
    assert lines[0] == "POSTURE (directory reads: what will stop an identity working)"
    assert any(line.startswith("sales-sync ") and "in 9 days" in line for line in lines)
    assert (
        "  contoso: DYN365_ENTERPRISE_SALES 4/5 used (1 spare), FLOW_FREE 3/10000 used (9997 "
        "spare; a free, trial or developer licence)"
    ) in lines
    assert "  prod: 7 of 7" in lines
    assert "Posture findings (2 warning, 2 info):" in lines
    warning = lines.index(
        "  [WARNING] sales-sync: client secret 'invoice' (in use) expires on 2026-12-05 (in 9 "
        "days); no successor is registered"
    )
    assert lines[warning + 1].startswith("      fix: add a new client secret")


def test_text_output_for_selected_identities() -> None:
    """With identities named, only their rows and findings (and tenant-wide ones) are shown."""
    posture, cfg = sample()

    text = render_posture_text(posture, cfg, NOW, identities=["crm-import"])

    lines = text.splitlines()
    assert "sales-sync" not in text
    assert any(line.startswith("crm-import ") for line in lines)
    assert "Posture findings (1 warning, 2 info):" in lines
    scopes = [line.split("] ", 1)[1].split(":", 1)[0] for line in lines if line.startswith("  [")]
    assert ["prod", "crm-import", "contoso"] == scopes


def test_json_carries_everything() -> None:
    """The JSON form has identities (classification, nearest deadline, every deadline, what was
    not observed), SKUs, environments and findings, and serialises."""
    posture, cfg = sample()

    document = posture_to_dict(posture, cfg, NOW)
    json.dumps(document)

    assert NOW.isoformat() == document["evaluated_at"]
    app = document["identities"]["sales-sync"]
    assert ("contoso", "not classified (Dataverse not observed)", [], None) == (
        app["tenant"],
        app["classification"],
        app["not_observed"],
        app["licences"],
    )
    assert {
        "at": days(9).isoformat(),
        "in_days": 9.0,
        "days_left": 9,
        "what": "client secret 'invoice' (in use)",
        "source": "graph",
        "kind": "credential_expiring",
    } == app["nearest_deadline"]
    assert [app["nearest_deadline"]] == app["deadlines"]
    assert [REASON] == [
        line.split(": ", 1)[1] for line in document["identities"]["crm-import"]["not_observed"]
    ]
    assert {"non_interactive_users": 7, "limit": 7} == document["environments"]["prod"]
    assert [(1, "gets a user into Dataverse"), (9997, "a free, trial or developer licence")] == [
        (sku["spare"], sku["seat"]) for sku in document["tenants"]["contoso"]["skus"]
    ]
    levels = sorted(f["level"] for f in document["findings"])
    assert ["info", "info", "warning", "warning"] == levels


def test_exit_code_follows_the_worst_finding() -> None:
    """2 for a critical finding, 1 for a warning, 0 otherwise."""
    posture, _ = sample()
    assert 1 == posture_exit_code(posture)
    critical = evaluate(
        config(app_identity()),
        observe(credentials(secret("k1", days(2), in_use=True)), identity="sales-sync"),
    )
    assert 2 == posture_exit_code(critical)
    assert 0 == posture_exit_code(evaluate(config()))


def test_configuration_facts_count_without_a_directory_read() -> None:
    """With nothing stored, the merge posture_from_store makes still sees the certificate files
    in the configuration: their end date gives a finding."""
    cfg = config(app_identity("erp", certificate_not_after=days(3)))

    findings = evaluate_posture(merged_observations([], cfg, NOW), cfg, NOW).findings

    assert ["credential_expiring:contoso/erp/-:file:" + "AB" * 20] == [f.key for f in findings]


def test_stored_configuration_facts_are_replaced_by_the_configuration() -> None:
    """A stored certificate-file fact the configuration still has keeps its since; a changed one
    starts now; one the configuration no longer has is dropped; directory facts stay as stored."""
    cfg = config(
        app_identity("erp", certificate_not_after=days(3)),
        app_identity("billing", certificate_not_after=days(40)),
    )
    graph = observe(
        credentials(secret("k1", days(9), in_use=True)), identity="sales-sync", since=days(-5)
    )
    stored = [
        graph,
        observe(
            CertificateFile(days(3), "AB" * 20),
            identity="erp",
            source="certificate file",
            since=days(-20),
        ),
        observe(
            CertificateFile(days(10), "AB" * 20),
            identity="billing",
            source="certificate file",
            since=days(-20),
        ),
        observe(
            CertificateFile(days(60), "CD" * 20),
            identity="retired",
            source="certificate file",
            since=days(-20),
        ),
    ]

    merged = {o.identity: o for o in merged_observations(stored, cfg, NOW)}

    assert {"sales-sync", "erp", "billing"} == set(merged)
    assert graph == merged["sales-sync"]
    assert (CertificateFile(days(3), "AB" * 20), days(-20)) == (
        merged["erp"].fact,
        merged["erp"].since,
    )
    assert (CertificateFile(days(40), "AB" * 20), NOW) == (
        merged["billing"].fact,
        merged["billing"].since,
    )
