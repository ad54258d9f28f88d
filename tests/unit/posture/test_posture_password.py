"""Password expiry prediction across policies, and the findings it gives."""

from __future__ import annotations

from datetime import timedelta

import pytest
from posture_builders import NOW, config, evaluate, missing, observe, only, user_identity

from monitor.findings.posture import Posture, predict_password_expiry
from monitor.model.findings import FindingKind, Level
from monitor.model.observations import DomainPolicy, UserAccount

CHANGED = NOW - timedelta(days=80)


def account(**overrides: object) -> UserAccount:
    values: dict[str, object] = {
        "found": True,
        "user_principal_name": "j.doe@contoso.com",
        "object_id": "a1b2c3d4-0000-4000-8000-00000000000a",
        "account_enabled": True,
        "last_password_change": CHANGED,
    }
    values.update(overrides)
    return UserAccount(**values)  # type: ignore[arg-type]


def test_ninety_day_domain_policy() -> None:
    """Last change + the domain's 90 days is the predicted expiry."""
    prediction = predict_password_expiry(account(), DomainPolicy("contoso.com", 90, 14))

    assert (CHANGED + timedelta(days=90), 90, "contoso.com") == (
        prediction.expires,
        prediction.validity_days,
        prediction.domain,
    )


def test_disable_password_expiration_wins_over_the_domain() -> None:
    """DisablePasswordExpiration on the account means never, whatever the domain says."""
    prediction = predict_password_expiry(
        account(password_policies=("DisablePasswordExpiration",)), DomainPolicy("contoso.com", 90)
    )

    assert (None, True) == (prediction.expires, prediction.never)
    assert "DisablePasswordExpiration" in prediction.why


@pytest.mark.parametrize("validity", [None, 2147483647], ids=["null", "int-max"])
def test_domain_without_expiry(validity: int | None) -> None:
    """A null or 2147483647 passwordValidityPeriodInDays means passwords never expire."""
    prediction = predict_password_expiry(account(), DomainPolicy("contoso.com", validity))

    assert (None, True) == (prediction.expires, prediction.never)
    assert f"passwordValidityPeriodInDays {'null' if validity is None else validity}" in (
        prediction.why
    )


@pytest.mark.parametrize(
    ("user", "domain", "why"),
    [
        (account(synced_from_on_premises=True), DomainPolicy("contoso.com", 90), "on-premises AD"),
        (account(), None, "password policy of domain contoso.com was not read"),
        (account(last_password_change=None), DomainPolicy("contoso.com", 90), "lastPassword"),
    ],
    ids=["synced", "domain-not-read", "no-last-change"],
)
def test_cannot_predict(user: UserAccount, domain: DomainPolicy | None, why: str) -> None:
    """When the date cannot be known it is neither a date nor "never": it says why."""
    prediction = predict_password_expiry(user, domain)

    assert (None, False) == (prediction.expires, prediction.never)
    assert why in prediction.why


def posture_with(
    domain_validity: int | None, changed_days_ago: float, **account_fields: object
) -> Posture:
    identity = user_identity()
    return evaluate(
        config(identity),
        observe(
            account(last_password_change=NOW - timedelta(days=changed_days_ago), **account_fields),
            identity=identity.name,
        ),
        observe(DomainPolicy("contoso.com", domain_validity, 14), subject="contoso.com"),
    )


@pytest.mark.parametrize(
    ("changed_days_ago", "level"),
    [(10, Level.INFO), (70, Level.WARNING), (85, Level.CRITICAL), (95, Level.CRITICAL)],
)
def test_password_finding_levels(changed_days_ago: float, level: Level) -> None:
    """Expiry on is advice (info) while far off, then a warning at 30 days, critical at 7 and
    after; the deadline is the predicted date."""
    posture = posture_with(90, changed_days_ago)

    finding = only(posture, FindingKind.PASSWORD_EXPIRING)
    assert (level, NOW + timedelta(days=90 - changed_days_ago)) == (finding.level, finding.deadline)
    assert "DisablePasswordExpiration" in finding.remedy


def test_never_expiring_password_has_no_finding_and_no_deadline() -> None:
    """With DisablePasswordExpiration there is no password finding and no password deadline."""
    posture = posture_with(90, 80, password_policies=("DisablePasswordExpiration",))

    assert [] == [f for f in posture.findings if f.kind is FindingKind.PASSWORD_EXPIRING]
    assert () == posture.identities["crm-import"].deadlines


def test_unreadable_domain_policy_is_not_observed_for_the_identity() -> None:
    """Without Domain.Read.All the password expiry is "not observed", with the reason."""
    identity = user_identity()
    posture = evaluate(
        config(identity),
        observe(account(), identity=identity.name),
        missing(
            "domain_policy",
            "permission",
            "the observer lacks the Graph application permission Domain.Read.All",
        ),
    )

    assert (
        "password expiry: the observer lacks the Graph application permission Domain.Read.All",
    ) == posture.identities["crm-import"].not_observed
