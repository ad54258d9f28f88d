"""Password expiry prediction across policies, and the findings it gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from posture_builders import NOW, config, evaluate, missing, observe, only, user_identity

from monitor.findings.posture import Posture, predict_password_expiry
from monitor.model.findings import FindingKind, Level
from monitor.model.observations import DeclaredExpiry, DomainPolicy, TenantInfo, UserAccount

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


def test_int_max_domain_validity_means_never() -> None:
    """A passwordValidityPeriodInDays of 2147483647 means passwords never expire."""
    prediction = predict_password_expiry(account(), DomainPolicy("contoso.com", 2147483647))

    assert (None, True) == (prediction.expires, prediction.never)
    assert "passwordValidityPeriodInDays 2147483647" in prediction.why


OLD_TENANT = TenantInfo("t", datetime(2019, 3, 14, tzinfo=UTC))
NEW_TENANT = TenantInfo("t", datetime(2021, 1, 1, tzinfo=UTC))


def test_null_validity_in_a_tenant_created_before_2021_is_an_inferred_90_days() -> None:
    """A domain without a value has the tenant's default: 90 days before 2021, inferred."""
    prediction = predict_password_expiry(account(), DomainPolicy("contoso.com", None), OLD_TENANT)

    assert (CHANGED + timedelta(days=90), 90, True) == (
        prediction.expires,
        prediction.validity_days,
        prediction.inferred,
    )


def test_null_validity_in_a_newer_tenant_never_expires() -> None:
    """A tenant created in 2021 or later has no expiration by default."""
    prediction = predict_password_expiry(account(), DomainPolicy("contoso.com", None), NEW_TENANT)

    assert (None, True) == (prediction.expires, prediction.never)
    assert "created on 2021-01-01: no expiration by default" in prediction.why


@pytest.mark.parametrize(
    ("user", "domain", "organization", "why"),
    [
        (
            account(synced_from_on_premises=True),
            DomainPolicy("contoso.com", 90, authentication_type="Federated"),
            OLD_TENANT,
            "governed by on-premises AD",
        ),
        (account(), None, OLD_TENANT, "password policy of domain contoso.com was not read"),
        (
            account(last_password_change=None),
            DomainPolicy("contoso.com", 90),
            OLD_TENANT,
            "lastPassword",
        ),
        (account(), DomainPolicy("contoso.com", None), None, "creation date"),
        (
            account(),
            DomainPolicy("contoso.com", None),
            TenantInfo("t", None),
            "creation date",
        ),
    ],
    ids=["federated", "domain-not-read", "no-last-change", "no-organization", "null-created"],
)
def test_cannot_predict(
    user: UserAccount, domain: DomainPolicy | None, organization: TenantInfo | None, why: str
) -> None:
    """When the date cannot be known it is neither a date nor "never": it says why."""
    prediction = predict_password_expiry(user, domain, organization)

    assert (None, False) == (prediction.expires, prediction.never)
    assert why in prediction.why


def test_password_hash_synchronised_user_follows_the_cloud_policy() -> None:
    """Synchronised into a managed domain (password hash sync): Entra Connect's
    DisablePasswordExpiration means never; without it the cloud policy applies."""
    synced = account(synced_from_on_premises=True, password_policies=("DisablePasswordExpiration",))
    managed = DomainPolicy("contoso.com", 90, authentication_type="Managed")

    never = predict_password_expiry(synced, managed, OLD_TENANT)
    cloud = predict_password_expiry(account(synced_from_on_premises=True), managed, OLD_TENANT)

    assert (True, "the account has DisablePasswordExpiration (set by password hash "
            "synchronisation)") == (never.never, never.why)  # fmt: skip
    assert CHANGED + timedelta(days=90) == cloud.expires


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


def test_inferred_default_is_labelled_on_the_deadline() -> None:
    """A null domain validity in a tenant created before 2021: the 90-day deadline is labelled
    an inferred default, in the finding and its source."""
    identity = user_identity()
    posture = evaluate(
        config(identity),
        observe(account(last_password_change=NOW - timedelta(days=80)), identity=identity.name),
        observe(DomainPolicy("contoso.com", None, None), subject="contoso.com"),
        observe(OLD_TENANT),
    )

    finding = only(posture, FindingKind.PASSWORD_EXPIRING)
    deadline = posture.identities["crm-import"].nearest
    assert deadline is not None
    assert ("graph (inferred default)", NOW + timedelta(days=10)) == (deadline.source, deadline.at)
    assert "90-day default of tenants created before 2021, inferred" in finding.summary


def test_federated_user_is_governed_on_premises_unless_a_date_is_declared() -> None:
    """A synchronised user of a federated domain: "governed by on-premises AD", never "never";
    a declared credential_expires gives the date instead."""
    from dataclasses import replace

    identity = user_identity()
    facts = (
        observe(account(synced_from_on_premises=True), identity=identity.name),
        observe(
            DomainPolicy("contoso.com", 90, 14, authentication_type="Federated"),
            subject="contoso.com",
        ),
        observe(OLD_TENANT),
    )
    declared_identity = replace(identity, credential_expires=NOW + timedelta(days=20))

    governed = evaluate(config(identity), *facts)
    declared = evaluate(
        config(declared_identity),
        *facts,
        observe(DeclaredExpiry(NOW + timedelta(days=20), "AD policy"), identity=identity.name),
    )

    (note,) = governed.identities["crm-import"].not_observed
    assert note.startswith("password expiry: governed by on-premises AD")
    assert [] == [f for f in governed.findings if f.kind is FindingKind.PASSWORD_EXPIRING]
    assert () == declared.identities["crm-import"].not_observed
    nearest = declared.identities["crm-import"].nearest
    assert nearest is not None
    assert NOW + timedelta(days=20) == nearest.at
