"""Non-interactive users against the limit of 7, and spare licences."""

from __future__ import annotations

import pytest
from posture_builders import (
    ENVIRONMENT,
    NOW,
    config,
    evaluate,
    findings_of,
    observe,
    only,
    user_identity,
)

from monitor.findings.posture import Posture
from monitor.model.findings import Finding, FindingKind, Level
from monitor.model.observations import (
    Licence,
    NonInteractiveUsers,
    ServicePlan,
    SubscribedSku,
    SystemUser,
    UserAccount,
    UserLicences,
)


def count_posture(count: int, disabled: int = 0) -> Posture:
    return evaluate(
        config(),
        observe(NonInteractiveUsers(count, disabled), environment=ENVIRONMENT, source="dataverse"),
    )


def test_five_non_interactive_users_is_no_finding() -> None:
    """Two left: nothing to say (the count is still reported)."""
    posture = count_posture(5)

    assert [] == findings_of(posture, FindingKind.CAPACITY)
    assert {ENVIRONMENT: 5} == dict(posture.non_interactive)


@pytest.mark.parametrize(
    ("count", "level", "summary"),
    [
        (6, Level.INFO, "6 of 7 non-interactive users used: one left"),
        (7, Level.WARNING, "7 of 7 non-interactive users used: no further one can be created"),
        (8, Level.WARNING, "8 non-interactive users, more than the documented limit of 7"),
    ],
)
def test_non_interactive_count_at_six_seven_eight(count: int, level: Level, summary: str) -> None:
    """6 of 7 is info, 7 of 7 a warning, 8 a warning that the limit is exceeded."""
    finding = only(count_posture(count), FindingKind.CAPACITY)

    assert (level, summary, ENVIRONMENT, None) == (
        finding.level,
        finding.summary,
        finding.environment,
        finding.identity,
    )
    assert "application users" in finding.remedy
    assert "capacity:contoso/-/prod:non-interactive-users" == finding.key


def test_disabled_ones_are_named() -> None:
    """Disabled non-interactive users are counted (on the safe side) and named as such."""
    finding = only(count_posture(7, disabled=2), FindingKind.CAPACITY)

    assert "7 of 7 non-interactive users used (including 2 disabled)" in finding.summary


def named_licensed_user(skus: list[SubscribedSku]) -> Posture:
    identity = user_identity()
    return evaluate(
        config(identity),
        observe(
            UserAccount(True, "j.doe@contoso.com", "oid", account_enabled=True),
            identity=identity.name,
        ),
        observe(UserLicences((Licence("s1", "DYN365_ENTERPRISE_SALES"),)), identity=identity.name),
        observe(
            SystemUser(True, "u", "Jane Doe", "j.doe@contoso.com", None, 0, False, True),
            identity=identity.name,
            environment=ENVIRONMENT,
            source="dataverse",
        ),
        *[observe(sku, subject=sku.sku_id) for sku in skus],
    )


D365_PLANS = (ServicePlan("DYN365_ENTERPRISE_SALES"), ServicePlan("POWERAPPS_DYN_APPS"))
M365_PLANS = (ServicePlan("DYN365_CDS_O365_P2"), ServicePlan("POWERAPPS_O365_P2"))


def sku(
    part: str,
    enabled: int,
    consumed: int,
    *,
    plans: tuple[ServicePlan, ...] | None = D365_PLANS,
    applies_to: str = "User",
    status: str = "Enabled",
    sku_id: str | None = None,
) -> SubscribedSku:
    return SubscribedSku(
        sku_id or part.lower(), part, enabled, consumed, 0, 0, status, applies_to, plans
    )


def advice(posture: Posture) -> Finding | None:
    found = [f for f in posture.findings if f.key.endswith(":spare-licences")]
    return found[0] if found else None


def identity_type_advice(posture: Posture) -> Finding:
    return next(
        f for f in findings_of(posture, FindingKind.IDENTITY_TYPE) if f.level is Level.WARNING
    )


def test_no_spare_licence_while_a_non_interactive_user_is_recommended() -> None:
    """A named licensed user should move to a non-interactive user, whose creation needs a
    licence for a moment; with none spare that is a warning of its own."""
    posture = named_licensed_user([sku("DYN365_ENTERPRISE_SALES", 3, 3, sku_id="s1")])

    named = identity_type_advice(posture)
    spare = advice(posture)
    assert spare is not None
    assert Level.WARNING == named.level
    assert "move the integration to an application user" in named.remedy
    assert (Level.WARNING, None) == (spare.level, spare.identity)
    assert (
        "no spare licence that gets a user into Dataverse in tenant contoso "
        "(DYN365_ENTERPRISE_SALES 3/3)"
    ) in spare.summary
    assert ((("DYN365_ENTERPRISE_SALES", 3, 3, 0, "gets a user into Dataverse")),) == tuple(
        (s.part_number, s.enabled, s.consumed, s.spare, s.seat) for s in posture.skus["contoso"]
    )


def test_a_spare_licence_means_no_licence_warning() -> None:
    """With one Dynamics 365 licence free the spare-licence warning is not raised."""
    posture = named_licensed_user([sku("DYN365_ENTERPRISE_SALES", 4, 3, sku_id="s1")])

    assert advice(posture) is None
    assert NOW == identity_type_advice(posture).observed_at


@pytest.mark.parametrize(
    ("spare_sku", "why"),
    [
        (
            sku("FLOW_FREE", 10000, 3, plans=(ServicePlan("DYN365_CDS_VIRAL"),)),
            "FLOW_FREE 3/10000 (a free, trial or developer licence)",
        ),
        (
            sku("POWERAPPS_VIRAL", 10000, 1, plans=(ServicePlan("DYN365_CDS_VIRAL"),)),
            "POWERAPPS_VIRAL 1/10000 (a free, trial or developer licence)",
        ),
        (
            sku("POWERAPPS_DEV", 10000, 1, plans=(ServicePlan("DYN365_CDS_DEV_VIRAL"),)),
            "POWERAPPS_DEV 1/10000 (a free, trial or developer licence)",
        ),
        (
            sku("DYN365_ENTERPRISE_SALES_TRIAL", 25, 0),
            "DYN365_ENTERPRISE_SALES_TRIAL 0/25 (a free, trial or developer licence)",
        ),
        (
            sku("CRMSTORAGE", 10, 0, applies_to="Company", plans=(ServicePlan("CRMSTORAGE"),)),
            "CRMSTORAGE 0/10 (applies to the company, not to a user)",
        ),
        (
            sku("DYN365_ENTERPRISE_CUSTOMER_SERVICE", 5, 1, status="Suspended"),
            "DYN365_ENTERPRISE_CUSTOMER_SERVICE 1/5 (its subscription is suspended)",
        ),
        (
            sku("POWER_BI_PRO", 10, 1, plans=(ServicePlan("BI_AZURE_P2"),)),
            "POWER_BI_PRO 1/10 (no service plan that grants Dataverse access)",
        ),
        (
            sku("ENTERPRISEPACK", 50, 20, plans=M365_PLANS),
            "ENTERPRISEPACK 20/50 (Microsoft 365: usable only by adding the user on demand)",
        ),
    ],
    ids=[
        "flow-free",
        "viral",
        "developer",
        "trial",
        "company",
        "suspended",
        "no-dataverse-plan",
        "microsoft-365",
    ],
)
def test_seats_that_cannot_create_a_non_interactive_user_are_not_spare(
    spare_sku: SubscribedSku, why: str
) -> None:
    """Free, viral, trial, developer, company-wide, suspended and Dataverse-less SKUs do not
    count, however many units they show; each is named with why."""
    posture = named_licensed_user([sku("DYN365_ENTERPRISE_SALES", 3, 3, sku_id="s1"), spare_sku])

    spare = advice(posture)
    assert spare is not None
    assert why in spare.summary


def test_spare_microsoft_365_seats_are_named_usable_only_on_demand() -> None:
    """Spare Office / Microsoft 365 seats: the warning stays and says they work only for users
    added on demand."""
    posture = named_licensed_user(
        [
            sku("DYN365_ENTERPRISE_SALES", 3, 3, sku_id="s1"),
            sku("SPE_E3", 100, 40, plans=M365_PLANS),
        ]
    )

    spare = advice(posture)
    assert spare is not None
    assert spare.summary.endswith(
        "the spare Microsoft 365 seats (SPE_E3) are usable only by adding the user on demand"
    )


def test_spare_per_user_licence_with_a_government_plan_counts() -> None:
    """A Power Apps per user (GCC) seat with its government Dataverse plan is spare."""
    posture = named_licensed_user(
        [
            sku("DYN365_ENTERPRISE_SALES", 3, 3, sku_id="s1"),
            sku("POWERAPPS_PER_USER_GCC", 2, 1, plans=(ServicePlan("DYN365_CDS_P2_GOV"),)),
        ]
    )

    assert advice(posture) is None


def test_skus_read_before_their_plans_are_not_judged() -> None:
    """A SKU fact recorded without appliesTo / service plans (before they were read) is not
    judged: no spare-licence warning until the next read."""
    posture = named_licensed_user([SubscribedSku("s1", "DYN365_ENTERPRISE_SALES", 3, 3)])

    assert advice(posture) is None
