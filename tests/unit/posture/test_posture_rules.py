"""Posture rules for accounts, Dataverse membership, roles, licences, classification and facts
that could not be observed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from posture_builders import (
    ENVIRONMENT,
    NOW,
    app_identity,
    config,
    credentials,
    days,
    evaluate,
    findings_of,
    missing,
    observe,
    only,
    secret,
    user_identity,
)

from monitor.findings.posture import (
    ADMINISTRATIVE_USER,
    APPLICATION_USER,
    NON_INTERACTIVE_USER,
    NOT_A_USER,
    NOT_CLASSIFIED,
    evaluate_posture,
)
from monitor.model.findings import FindingKind, Level
from monitor.model.observations import (
    AppCredentials,
    Fact,
    Licence,
    Observation,
    RoleGrant,
    SecurityRoles,
    ServicePrincipal,
    SubscribedSku,
    SystemUser,
    UserAccount,
    UserLicences,
)
from monitor.pipeline.directory import local_observations

SA = "627090ff-40a3-4053-8790-584edc5be201"
SC = "119f245c-3cc8-4b62-b31c-d1a046ced15d"
EARLIER = NOW - timedelta(days=2)


def systemuser(
    *,
    access_mode: int = 0,
    disabled: bool = False,
    licensed: bool = True,
    application_id: str | None = None,
    found: bool = True,
) -> SystemUser:
    if not found:
        return SystemUser(found=False)
    return SystemUser(
        True, "u1", "Someone", "x@contoso.com", application_id, access_mode, disabled, licensed
    )


def dataverse(fact: Fact, identity: str) -> Observation:
    return observe(fact, identity=identity, environment=ENVIRONMENT, source="dataverse")


def test_disabled_user_is_critical_since_first_seen_disabled() -> None:
    """An account disabled in Entra ID is critical; the deadline is when that was first seen."""
    identity = user_identity()
    disabled = UserAccount(True, "j.doe@contoso.com", "oid", account_enabled=False)
    posture = evaluate(config(identity), observe(disabled, identity=identity.name, since=EARLIER))

    finding = only(posture, FindingKind.ACCOUNT_DISABLED)
    assert (Level.CRITICAL, EARLIER) == (finding.level, finding.deadline)
    assert "is disabled in Entra ID" in finding.summary
    assert finding.remedy.startswith("re-enable the account")


def test_user_that_does_not_exist() -> None:
    """A user missing from the directory is critical (it cannot sign in)."""
    identity = user_identity()
    posture = evaluate(
        config(identity), observe(UserAccount(False, "j.doe@contoso.com"), identity=identity.name)
    )

    assert (
        "no user j.doe@contoso.com in tenant contoso"
        in only(posture, FindingKind.ACCOUNT_DISABLED).summary
    )


@pytest.mark.parametrize(
    ("principal", "fragment"),
    [
        (ServicePrincipal(found=True, account_enabled=False, display_name="Sales"), "is disabled"),
        (ServicePrincipal(found=False), "has no service principal"),
    ],
)
def test_service_principal_state(principal: ServicePrincipal, fragment: str) -> None:
    """A disabled or missing service principal is critical."""
    identity = app_identity()
    posture = evaluate(config(identity), observe(principal, identity=identity.name))

    assert fragment in only(posture, FindingKind.ACCOUNT_DISABLED).summary


def test_not_a_user_of_the_environment_is_an_outage() -> None:
    """No systemuser row: not in the environment, critical, with how to add it."""
    identity = app_identity()
    posture = evaluate(config(identity), dataverse(systemuser(found=False), identity.name))

    finding = only(posture, FindingKind.NOT_IN_ENVIRONMENT)
    assert (Level.CRITICAL, ENVIRONMENT) == (finding.level, finding.environment)
    assert "application user" in finding.remedy


def test_disabled_in_the_environment() -> None:
    """A disabled systemuser is critical for that environment."""
    identity = app_identity()
    posture = evaluate(
        config(identity),
        dataverse(
            systemuser(application_id="a", access_mode=4, disabled=True, licensed=False),
            identity.name,
        ),
    )

    finding = only(posture, FindingKind.ACCOUNT_DISABLED)
    assert ("disabled in environment prod: Dataverse refuses every call", ENVIRONMENT) == (
        finding.summary,
        finding.environment,
    )


@pytest.mark.parametrize(
    ("grant", "role", "key_tail"),
    [
        (
            RoleGrant("System Administrator", "r1", SA),
            "System Administrator",
            "system-administrator:direct",
        ),
        (
            RoleGrant("Administrateur", "r2", SA, team="Integrators"),
            "System Administrator",
            "system-administrator:Integrators",
        ),
        (RoleGrant("System Customizer", "r3", SC), "System Customizer", "system-customizer:direct"),
        (
            RoleGrant("System Administrator", "r4", None),
            "System Administrator",
            "system-administrator:direct",
        ),
    ],
    ids=["sysadmin", "via-team", "customizer", "name-only"],
)
def test_over_privileged_roles(grant: RoleGrant, role: str, key_tail: str) -> None:
    """System Administrator / Customizer, also through a team, is a warning naming the role."""
    identity = app_identity()
    posture = evaluate(
        config(identity),
        dataverse(systemuser(application_id="a", access_mode=4, licensed=False), identity.name),
        dataverse(SecurityRoles((grant, RoleGrant("Sales reader", "r9", None))), identity.name),
    )

    finding = only(posture, FindingKind.OVER_PRIVILEGED)
    assert (Level.WARNING, None) == (finding.level, finding.deadline)
    assert f"holds the {role} role in prod" in finding.summary
    assert finding.remedy.startswith("grant a least-privilege custom role")
    assert finding.key.endswith(key_tail)
    if grant.team:
        assert f"through team '{grant.team}'" in finding.summary


def test_removed_licence_of_an_interactive_user_is_critical_since_removal() -> None:
    """An interactive user whose licences are gone gets disabled by Dataverse: critical, the
    deadline is when the empty licence list was first observed."""
    identity = user_identity()
    posture = evaluate(
        config(identity),
        observe(
            UserAccount(True, "j.doe@contoso.com", "oid", account_enabled=True),
            identity=identity.name,
        ),
        observe(UserLicences(()), identity=identity.name, since=EARLIER),
        dataverse(systemuser(access_mode=0, licensed=True), identity.name),
    )

    finding = only(posture, FindingKind.LICENCE)
    assert (Level.CRITICAL, EARLIER, ENVIRONMENT) == (
        finding.level,
        finding.deadline,
        finding.environment,
    )
    assert "without a licence in Entra ID" in finding.summary
    assert "assign a Dynamics 365 / Power Apps licence again" in finding.remedy


def test_unlicensed_non_interactive_user_is_fine() -> None:
    """A non-interactive user needs no licence: no licence finding."""
    identity = user_identity()
    posture = evaluate(
        config(identity),
        observe(UserLicences(()), identity=identity.name),
        dataverse(systemuser(access_mode=4, licensed=False), identity.name),
    )

    assert [] == findings_of(posture, FindingKind.LICENCE)
    assert NON_INTERACTIVE_USER == posture.identities["crm-import"].classification


def test_dataverse_says_unlicensed_even_if_graph_was_not_read() -> None:
    """islicensed false for an interactive user is critical on Dataverse's word alone."""
    identity = user_identity()
    posture = evaluate(config(identity), dataverse(systemuser(licensed=False), identity.name))

    assert "(islicensed false)" in only(posture, FindingKind.LICENCE).summary


@pytest.mark.parametrize(
    ("status", "level"), [("Warning", Level.WARNING), ("Suspended", Level.CRITICAL)]
)
def test_licence_subscription_state(status: str, level: Level) -> None:
    """A licence whose subscription is in grace (Warning) or suspended is reported."""
    identity = user_identity()
    posture = evaluate(
        config(identity),
        observe(
            UserAccount(True, "j.doe@contoso.com", "oid", account_enabled=True),
            identity=identity.name,
        ),
        observe(UserLicences((Licence("s1", "POWERAPPS_PER_APP"),)), identity=identity.name),
        observe(
            SubscribedSku("s1", "POWERAPPS_PER_APP", 2, 2, capability_status=status), subject="s1"
        ),
    )

    finding = only(posture, FindingKind.LICENCE)
    assert (level, "crm-import") == (finding.level, finding.identity)
    assert "POWERAPPS_PER_APP" in finding.summary


def test_classification_from_observations() -> None:
    """Application user / non-interactive / interactive come from what Dataverse says."""
    app = app_identity()
    user = user_identity()
    unread = user_identity("unread", username="u@contoso.com")
    posture = evaluate(
        config(app, user, unread),
        dataverse(systemuser(application_id="a", access_mode=4, licensed=False), app.name),
        observe(UserLicences((Licence("s1", "DYN365_ENTERPRISE_SALES"),)), identity=user.name),
        dataverse(systemuser(access_mode=0), user.name),
    )

    assert APPLICATION_USER == posture.identities["sales-sync"].classification
    assert "interactive user (licensed)" == posture.identities["crm-import"].classification
    assert NOT_CLASSIFIED == posture.identities["unread"].classification
    (named,) = [
        f for f in findings_of(posture, FindingKind.IDENTITY_TYPE) if f.level is Level.WARNING
    ]
    assert "a named, licensed user (DYN365_ENTERPRISE_SALES) runs this integration" in named.summary


def test_no_observer_is_one_info_finding_per_tenant_never_healthy() -> None:
    """Facts not observed for want of an observer give one info finding for the tenant, and
    each identity says "not observed" instead of looking healthy."""
    app = app_identity()
    reason = "no observer is configured for tenant contoso (tenants.contoso.observer)"
    posture = evaluate(
        config(app, observer=False),
        missing("service_principal", "no_observer", reason, identity=app.name),
        missing("app_credentials", "no_observer", reason, identity=app.name),
        missing("subscribed_sku", "no_observer", reason),
    )

    finding = only(posture, FindingKind.NOT_OBSERVED)
    assert (Level.INFO, "not_observed:contoso/-/-:no_observer") == (finding.level, finding.key)
    assert finding.summary.startswith(f"not observed: {reason} (3 facts of sales-sync)")
    assert [
        f"service principal: {reason}",
        f"credential end dates: {reason}",
    ] == list(posture.identities["sales-sync"].not_observed)
    assert posture.identities["sales-sync"].nearest is None


def test_missing_permission_is_a_warning_grouped_by_reason() -> None:
    """Each missing permission is one warning naming it; sign-in failures another."""
    app = app_identity()
    user = user_identity()
    posture = evaluate(
        config(app, user),
        missing(
            "app_credentials",
            "permission",
            "the observer lacks ... Application.Read.All",
            identity=app.name,
        ),
        missing(
            "service_principal",
            "permission",
            "the observer lacks ... Application.Read.All",
            identity=app.name,
        ),
        missing(
            "user_account", "permission", "the observer lacks ... User.Read.All", identity=user.name
        ),
        missing(
            "noninteractive_users",
            "sign_in",
            "the observer could not sign in (AADSTS7000215)",
            environment=ENVIRONMENT,
            source="dataverse",
        ),
    )

    found = findings_of(posture, FindingKind.NOT_OBSERVED)
    assert [Level.WARNING] * 3 == [f.level for f in found]
    assert {
        "permission:the-observer-lacks-application-read-all",
        "permission:the-observer-lacks-user-read-all",
        "sign_in",
    } == {f.key.split(":", 2)[2] for f in found}


def test_declared_expiry_covers_a_registration_in_another_tenant() -> None:
    """An app registered elsewhere is not a finding when its expiry is declared; without the
    declaration it is a warning that says to declare it."""
    declared = app_identity("vendor", declared=days(100), declared_source="vendor")
    undeclared = app_identity("other")
    reason = "the app registration is not in this tenant's directory"
    posture = evaluate(
        config(declared, undeclared),
        missing("app_credentials", "elsewhere", reason, identity="vendor"),
        missing("app_credentials", "elsewhere", reason, identity="other"),
        *local_observations(config(declared, undeclared), NOW),
    )

    found = findings_of(posture, FindingKind.NOT_OBSERVED)
    assert ["other"] == [f.identity for f in found]
    assert "credential_expires" in found[0].remedy
    assert () == posture.identities["vendor"].not_observed
    assert days(100) == posture.identities["vendor"].nearest.at  # type: ignore[union-attr]


def test_identity_without_any_directory_read_says_so() -> None:
    """Before any directory read an identity's posture is "not observed", not empty."""
    posture = evaluate(config(app_identity()))

    assert ("directory: no directory read of tenant contoso yet",) == posture.identities[
        "sales-sync"
    ].not_observed


def test_observations_of_unconfigured_identities_are_ignored() -> None:
    """Stored facts of an identity removed from the configuration give no findings."""
    posture = evaluate_posture(
        [observe(UserAccount(True, "gone@contoso.com", account_enabled=False), identity="gone")],
        config(app_identity()),
        NOW,
    )

    assert [] == findings_of(posture, FindingKind.ACCOUNT_DISABLED)


def test_finding_keys_are_stable_across_evaluations() -> None:
    """The same facts an hour later give the same keys (incidents depend on it)."""
    identity = user_identity()
    facts = [
        observe(
            UserAccount(True, "j.doe@contoso.com", "oid", account_enabled=False),
            identity=identity.name,
        ),
        dataverse(SecurityRoles((RoleGrant("System Administrator", "r", SA),)), identity.name),
        dataverse(systemuser(), identity.name),
    ]
    first = evaluate_posture(facts, config(identity), NOW)
    later = evaluate_posture(facts, config(identity), NOW + timedelta(hours=1))

    assert [f.key for f in first.findings] == [f.key for f in later.findings]


def test_identity_missing_from_every_environment_is_classified_so() -> None:
    """An identity Dataverse was read for but that is no user anywhere is said to be that, not
    "not classified"."""
    identity = app_identity()
    posture = evaluate(config(identity), dataverse(systemuser(found=False), identity.name))

    assert NOT_A_USER == posture.identities["sales-sync"].classification


def test_administrative_access_mode_needs_no_licence() -> None:
    """A user in access mode 1 (administrative) without a licence: no "unlicensed" critical;
    it is classified as administrative (it draws from the tenant pool)."""
    identity = user_identity()
    posture = evaluate(
        config(identity),
        observe(UserLicences(()), identity=identity.name),
        dataverse(systemuser(access_mode=1, licensed=False), identity.name),
    )

    assert [] == findings_of(posture, FindingKind.LICENCE)
    assert ADMINISTRATIVE_USER == posture.identities["crm-import"].classification


@pytest.mark.parametrize(
    ("roles", "critical"),
    [
        ((), True),
        ((RoleGrant("Sales integration", "r1"),), False),
        ((RoleGrant("Sales integration", "r1", None, "Integrators"),), False),
    ],
    ids=["none", "direct", "through-a-team"],
)
def test_no_security_role_at_all_is_critical(roles: tuple[RoleGrant, ...], critical: bool) -> None:
    """No role directly or through any team: critical (it signs in and can do nothing)."""
    identity = app_identity()
    posture = evaluate(
        config(identity),
        dataverse(systemuser(application_id="a", access_mode=4, licensed=False), identity.name),
        dataverse(SecurityRoles(roles), identity.name),
    )

    found = findings_of(posture, FindingKind.SECURITY_ROLE)
    assert critical == bool(found)
    if critical:
        (finding,) = found
        assert (Level.CRITICAL, ENVIRONMENT) == (finding.level, finding.environment)
        assert "holds no security role in prod, directly or through a team" in finding.summary
        assert finding.remedy.startswith("assign a least-privilege security role")


def test_every_password_identity_gets_the_ropc_advice() -> None:
    """Each kind = "user" identity has an info finding that password sign-in is deprecated, with
    the migration advice; application identities have none."""
    user = user_identity()
    app = app_identity()
    posture = evaluate(config(user, app))

    advice = [
        f
        for f in findings_of(posture, FindingKind.IDENTITY_TYPE)
        if f.key.endswith("password-sign-in")
    ]
    assert [("crm-import", Level.INFO, "configuration")] == [
        (f.identity, f.level, f.source) for f in advice
    ]
    assert "ROPC" in advice[0].summary
    assert "https://aka.ms/msal-ropc-migration" in advice[0].remedy


@pytest.mark.parametrize(
    ("credentials", "code"),
    [
        (AppCredentials("c", "Sales", "client_secret", "hint"), "AADSTS7000229"),
        (None, "AADSTS700016"),
    ],
    ids=["registered-here", "registered-elsewhere"],
)
def test_missing_service_principal_names_the_code_sign_in_will_get(
    credentials: AppCredentials | None, code: str
) -> None:
    """No service principal: 7000229 when the registration is in this tenant (the enterprise
    application was deleted), 700016 when it lives elsewhere."""
    identity = app_identity()
    facts = [observe(ServicePrincipal(found=False), identity=identity.name)]
    if credentials is not None:
        facts.append(observe(credentials, identity=identity.name))
    else:
        facts.append(
            missing("app_credentials", "elsewhere", "in another tenant", identity=identity.name)
        )

    finding = only(evaluate(config(identity), *facts), FindingKind.ACCOUNT_DISABLED)

    assert code in finding.summary
    assert finding.remedy.startswith("re-create the enterprise application")


@pytest.mark.parametrize(
    ("failed_reads", "minutes", "raised"),
    [
        (1, 0, False),  # one failed read: a blip
        (2, 45, False),  # long enough, but too few reads
        (3, 20, False),  # enough reads, but within minutes
        (3, 30, True),  # three in a row over half an hour
    ],
)
def test_a_passing_failure_is_not_observed_only_after_the_threshold(
    failed_reads: int, minutes: int, raised: bool
) -> None:
    """Reads that fail for a reason that may pass (503, throttled, unreachable) raise "not
    observed" only after [directory] not_observed_after_failures (3) reads in a row spanning
    not_observed_after_minutes (30); meanwhile the fact's last known value is judged as
    before."""
    app = app_identity()
    known = observe(credentials(secret("k1", days(5), in_use=True)), identity=app.name, at=days(-1))
    failing = replace(
        known,
        cause="service_error",
        reason="Graph answered HTTP 503",
        failed_reads=failed_reads,
        failing_since=NOW - timedelta(minutes=minutes),
    )
    posture = evaluate(config(app), failing)

    assert raised == bool(findings_of(posture, FindingKind.NOT_OBSERVED))
    (expiring,) = findings_of(posture, FindingKind.CREDENTIAL_EXPIRING)
    assert days(5) == expiring.deadline
    assert any(
        "reading it fails since" in note for note in posture.identities[app.name].not_observed
    )


def test_a_missing_permission_is_not_observed_at_once() -> None:
    """A missing permission does not pass by itself: "not observed" on the first failed read,
    and the last known value is still judged."""
    app = app_identity()
    known = observe(credentials(secret("k1", days(5), in_use=True)), identity=app.name)
    failing = replace(
        known,
        cause="permission",
        reason="the observer lacks ... Application.Read.All",
        failed_reads=1,
        failing_since=NOW,
    )
    posture = evaluate(config(app), failing)

    (not_observed,) = findings_of(posture, FindingKind.NOT_OBSERVED)
    assert "1 kept as last read" in not_observed.summary
    assert 1 == len(findings_of(posture, FindingKind.CREDENTIAL_EXPIRING))
