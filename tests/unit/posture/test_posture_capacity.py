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
from monitor.model.findings import FindingKind, Level
from monitor.model.observations import (
    Licence,
    NonInteractiveUsers,
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


def test_no_spare_licence_while_a_non_interactive_user_is_recommended() -> None:
    """A named licensed user should move to a non-interactive user, whose creation needs a
    licence for a moment; with none spare that is a warning of its own."""
    posture = named_licensed_user([SubscribedSku("s1", "DYN365_ENTERPRISE_SALES", 3, 3)])

    advice = only(posture, FindingKind.IDENTITY_TYPE)
    spare = next(f for f in posture.findings if f.key.endswith(":spare-licences"))
    assert Level.WARNING == advice.level
    assert "move the integration to an application user" in advice.remedy
    assert (Level.WARNING, None) == (spare.level, spare.identity)
    assert "no spare licence in tenant contoso (DYN365_ENTERPRISE_SALES 3/3)" in spare.summary
    assert ((("DYN365_ENTERPRISE_SALES", 3, 3, 0)),) == tuple(
        (s.part_number, s.enabled, s.consumed, s.spare) for s in posture.skus["contoso"]
    )


def test_a_spare_licence_means_no_licence_warning() -> None:
    """With one licence free the spare-licence warning is not raised."""
    posture = named_licensed_user([SubscribedSku("s1", "DYN365_ENTERPRISE_SALES", 4, 3)])

    assert [] == [f for f in posture.findings if f.key.endswith(":spare-licences")]
    assert NOW == only(posture, FindingKind.IDENTITY_TYPE).observed_at
