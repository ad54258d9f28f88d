"""Discovery: list every integration identity of the configured environments with the tenants'
observers, and join each with what Entra ID knows about it.

Per tenant with an observer and per configured Dataverse environment of it: every application
user and non-interactive user (:mod:`monitor.directory.discovery`), grouped into one
:class:`~monitor.model.discovery.DiscoveredIdentity` per app or user across environments, each
joined with its app registration and service principal (or its Entra account), matched with the
configured identities and the observer, and given its nearest deadline. A read that fails makes
only its facts "not observed"; nothing a service answers raises (docs/discovery.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Literal

import structlog

from monitor.config.model import Config, TenantConfig
from monitor.directory.client import NotObserved, ReadPolicy, Sleep
from monitor.directory.dataverse import DataverseClient, dataverse_headers
from monitor.directory.discovery import (
    DataverseDiscovery,
    GraphDiscovery,
    IntegrationUser,
    RegisteredApp,
)
from monitor.directory.graph import GraphClient, GraphDirectory
from monitor.directory.tokens import ObserverTokens
from monitor.findings.posture import credential_in_use, predict_password_expiry
from monitor.http import MonitorSession, build_session
from monitor.model.discovery import (
    CredentialEnd,
    DiscoveredIdentity,
    DiscoveryResult,
    EnvironmentPresence,
    NamedUserSuspect,
    NearestDeadline,
    TenantDiscovery,
)
from monitor.model.observations import (
    AppCredentials,
    DomainPolicy,
    NotObservedCause,
    RegisteredCredential,
    RoleGrant,
    SubscribedSku,
    TenantInfo,
    UserAccount,
    UserLicences,
)
from monitor.model.usage import ReportUsage
from monitor.usage.named import named_user_suspects

log = structlog.get_logger("monitor.discovery")

SessionFactory = Callable[[TenantConfig], MonitorSession]


def has_successor(credential: RegisteredCredential, others: Sequence[RegisteredCredential]) -> bool:
    """Whether another credential of the same type is valid before *credential* ends and ends
    later (or never) — the rule of the posture findings (docs/posture.md)."""
    if credential.end is None:
        return False
    return any(
        other.key_id != credential.key_id
        and other.type == credential.type
        and (other.end is None or other.end > credential.end)
        and (other.start is None or other.start <= credential.end)
        for other in others
    )


def app_deadline(
    credentials: Sequence[RegisteredCredential], now: datetime
) -> NearestDeadline | None:
    """Return when the app's sign-ins stop working at the latest guess the monitor can make
    without knowing which credential is in use: the credential the posture rules assume (the
    live one ending first, of secrets if it has any, else certificates)."""
    if not credentials:
        return None
    kind: Literal["client_secret", "certificate"] = (
        "client_secret" if any(c.type == "client_secret" for c in credentials) else "certificate"
    )
    verdict = credential_in_use(
        AppCredentials(
            client_id="",
            display_name="",
            configured=kind,
            matched_by="none",
            credentials=tuple(credentials),
        ),
        now,
    )
    current = verdict.current
    if current is None or current.end is None:
        return None
    successor = " (successor registered)" if verdict.successor is not None else ""
    verb = "expired" if current.end <= now else "expires"
    return NearestDeadline(current.end, f"{current.describe()} {verb}{successor}")


class Discovery:
    """Run discovery over the configured tenants (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        *,
        sessions: SessionFactory | None = None,
        sleep: Sleep = time.sleep,
        policy: ReadPolicy | None = None,
    ) -> None:
        self.config = config
        self.sessions = sessions or self._session
        self.sleep = sleep
        self.policy = policy or ReadPolicy(
            request_seconds=config.network.probe_deadline_seconds, max_pages=1000
        )

    def _session(self, tenant: TenantConfig) -> MonitorSession:
        return build_session(self.config.network, authority_hosts=[tenant.authority_host])

    def run(
        self,
        now: datetime,
        *,
        tenants: Sequence[str] | None = None,
        environments: Sequence[str] | None = None,
        usage: Sequence[ReportUsage] | None = None,
        usage_note: str = "",
    ) -> DiscoveryResult:
        """Discover in *tenants* (default: every configured one) and *environments* (default:
        every configured one of those tenants); with the imported *usage* (None: not read, for
        *usage_note*), also the named users that look like integrations."""
        configured = {
            (identity.tenant, identity.object_id.lower()): identity.name
            for identity in self.config.identities.values()
            if identity.object_id
        }
        suspects = named_user_suspects(usage or (), self.config.discovery, configured)
        found = []
        for name, tenant in self.config.tenants.items():
            if tenants is not None and name not in tenants:
                continue
            names = [
                env
                for env, environment in self.config.environments.items()
                if environment.tenant == name and (environments is None or env in environments)
            ]
            if not names and environments is not None:
                continue
            mine = [suspect for suspect in suspects if suspect.tenant == name]
            found.append(self.tenant(tenant, names, now, mine))
        return DiscoveryResult(at=now, tenants=tuple(found), usage_note=usage_note)

    def tenant(
        self,
        tenant: TenantConfig,
        environments: Sequence[str],
        now: datetime,
        suspects: Sequence[NamedUserSuspect] = (),
    ) -> TenantDiscovery:
        """Return what discovery finds in *tenant*'s *environments*; never raises."""
        if tenant.observer is None:
            return TenantDiscovery(
                tenant.name,
                (),
                problems=(
                    f"not observed: no observer is configured for tenant {tenant.name} "
                    f"(tenants.{tenant.name}.observer)",
                ),
                named_users=tuple(
                    replace(s, lookup_problem="no observer to name the user") for s in suspects
                ),
            )
        if not environments:
            return TenantDiscovery(
                tenant.name,
                (),
                problems=(f"no Dataverse environment of tenant {tenant.name} is configured",),
            )
        try:
            session = self.sessions(tenant)
        except Exception as exc:  # no trust store: nothing can be read
            return TenantDiscovery(
                tenant.name, (), problems=(f"not observed: no HTTP session: {exc}",)
            )
        try:
            tokens = ObserverTokens(
                tenant, tenant.observer, session, request_seconds=self.policy.request_seconds
            )
            return self.read_with(tenant, environments, now, session, tokens, suspects)
        finally:
            session.close()

    def read_with(
        self,
        tenant: TenantConfig,
        environments: Sequence[str],
        now: datetime,
        session: MonitorSession,
        tokens: ObserverTokens,
        suspects: Sequence[NamedUserSuspect] = (),
    ) -> TenantDiscovery:
        """Discover in *tenant* with a session and observer tokens already at hand (the
        directory pass's); never raises."""
        try:
            return _TenantDiscovery(self, tenant, session, tokens, now).run(environments, suspects)
        except Exception as exc:  # a reader bug must not take the command (or a pass) down
            log.error("discovery failed", tenant=tenant.name, error=type(exc).__name__)
            reason = f"discovery stopped on an internal error ({type(exc).__name__})"
            return TenantDiscovery(
                tenant.name,
                (),
                problems=(reason,),
                unread=tuple((name, "service_error", reason) for name in environments),
            )


class _TenantDiscovery:
    """One tenant's discovery (the state of its reads)."""

    def __init__(
        self,
        owner: Discovery,
        tenant: TenantConfig,
        session: MonitorSession,
        tokens: ObserverTokens,
        now: datetime,
    ) -> None:
        self.config = owner.config
        self.owner = owner
        self.tenant = tenant
        self.session = session
        self.tokens = tokens
        self.now = now
        self.problems: list[str] = []
        self.unread: list[tuple[str, NotObservedCause, str]] = []
        self.role_causes: dict[tuple[str, str], NotObservedCause] = {}

    def run(
        self, environments: Sequence[str], suspects: Sequence[NamedUserSuspect] = ()
    ) -> TenantDiscovery:
        listed: dict[str, list[tuple[str, IntegrationUser, EnvironmentPresence]]] = {}
        read: list[str] = []
        for name in environments:
            rows = self._environment(name)
            if rows is None:
                continue
            read.append(name)
            for user, presence in rows:
                key = user.application_id or user.object_id or user.domain_name.lower()
                listed.setdefault(key, []).append((name, user, presence))
        graph = GraphClient(
            self.session,
            f"{self.tenant.graph_url}/v1.0",
            self.tokens.for_resource(self.tenant.graph_url),
            service="Graph",
            headers={"Accept": "application/json"},
            policy=self.owner.policy,
            sleep=self.owner.sleep,
        )
        reader = GraphDiscovery(graph)
        apps = {key: rows for key, rows in listed.items() if rows[0][1].application_id}
        users = {key: rows for key, rows in listed.items() if not rows[0][1].application_id}
        identities = self._applications(reader, apps) + self._users(graph, reader, users)
        named = self._named(reader, suspects)
        identities.sort(key=lambda i: (i.configured, i.observer, i.display_name.lower(), i.key))
        return TenantDiscovery(
            self.tenant.name,
            tuple(identities),
            tuple(read),
            tuple(self.problems),
            tuple(self.unread),
            named,
        )

    def _named(
        self, reader: GraphDiscovery, suspects: Sequence[NamedUserSuspect]
    ) -> tuple[NamedUserSuspect, ...]:
        """Return the *suspects* named by their Entra accounts (where they can be read)."""
        if not suspects:
            return ()
        accounts = reader.users([suspect.caller_id for suspect in suspects], None)
        named = []
        for suspect in suspects:
            answer = accounts.get(suspect.caller_id)
            if isinstance(answer, NotObserved) or answer is None:
                why = answer.reason if answer is not None else "not read"
                named.append(replace(suspect, lookup_problem=why))
                continue
            account = answer[0]
            if not account.found:
                named.append(replace(suspect, lookup_problem="no such user in the tenant"))
                continue
            named.append(
                replace(
                    suspect,
                    user_principal_name=account.user_principal_name,
                    display_name=account.display_name,
                    configured_as=suspect.configured_as
                    or self._configured_user(account.user_principal_name),
                )
            )
        return tuple(named)

    # --- Dataverse ----------------------------------------------------------------------------

    def _environment(self, name: str) -> list[tuple[IntegrationUser, EnvironmentPresence]] | None:
        environment = self.config.environments[name]
        client = DataverseClient(
            self.session,
            environment.url,
            self.tokens.for_resource(environment.url),
            service=f"Dataverse environment {name}",
            headers=dataverse_headers(),
            policy=self.owner.policy,
            sleep=self.owner.sleep,
        )
        client.environment = name
        reader = DataverseDiscovery(client)
        unread_roles: dict[str, NotObserved] = {}
        try:
            users = reader.integration_users()
        except NotObserved as problem:
            if "HTTP 400" not in problem.reason:
                self.problems.append(f"environment {name} not observed: {problem.reason}")
                self.unread.append((name, problem.cause, problem.reason))
                return None
            # The environment refused the query with its roles expanded: list the users
            # without, and read each one's roles on its own (slower, as the directory pass).
            log.warning("discovery without $expand", environment=name, reason=problem.reason)
            try:
                listed = reader.integration_users(expand=False)
            except NotObserved as again:
                self.problems.append(f"environment {name} not observed: {again.reason}")
                self.unread.append((name, again.cause, again.reason))
                return None
            users = []
            for user in listed:
                try:
                    users.append(reader.roles_of(user))
                except NotObserved as failed:
                    unread_roles[user.systemuser_id] = failed
                    users.append(user)
        team_roles: dict[str, tuple[RoleGrant, ...]] | NotObserved = {}
        if any(user.teams for user in users):
            try:
                team_roles = reader.team_roles()
            except NotObserved as problem:
                team_roles = problem
        rows = []
        for user in users:
            roles: tuple[RoleGrant, ...] | None = user.roles
            reason = ""
            unreadable = unread_roles.get(user.systemuser_id)
            if unreadable is not None:
                roles, reason = None, unreadable.reason
                self.role_causes[(name, user.systemuser_id)] = unreadable.cause
            elif isinstance(team_roles, NotObserved) and user.teams:
                roles, reason = None, f"roles through teams: {team_roles.reason}"
                self.role_causes[(name, user.systemuser_id)] = team_roles.cause
            elif isinstance(team_roles, dict):
                for team_id, _ in user.teams:
                    roles = (*(roles or ()), *team_roles.get(team_id, ()))
            rows.append(
                (
                    user,
                    EnvironmentPresence(
                        environment=name,
                        systemuser_id=user.systemuser_id,
                        full_name=user.full_name,
                        domain_name=user.domain_name,
                        access_mode=user.access_mode,
                        disabled=user.disabled,
                        roles=roles,
                        roles_reason=reason,
                    ),
                )
            )
        return rows

    # --- Graph --------------------------------------------------------------------------------

    def _configured_app(self, client_id: str) -> str | None:
        for identity in self.config.identities.values():
            if (
                identity.tenant == self.tenant.name
                and identity.kind == "application"
                and identity.client_id.lower() == client_id
            ):
                return identity.name
        return None

    def _configured_user(self, *names: str | None) -> str | None:
        wanted = {name.lower() for name in names if name}
        for identity in self.config.identities.values():
            if (
                identity.tenant == self.tenant.name
                and identity.kind == "user"
                and (identity.username or "").lower() in wanted
            ):
                return identity.name
        for identity in self.config.identities.values():
            if identity.object_id is not None and identity.object_id.lower() in wanted:
                return identity.name
        return None

    def _applications(
        self,
        reader: GraphDiscovery,
        listed: dict[str, list[tuple[str, IntegrationUser, EnvironmentPresence]]],
    ) -> list[DiscoveredIdentity]:
        if not listed:
            return []
        registrations: dict[str, RegisteredApp] | NotObserved
        principals: dict[str, bool] | NotObserved
        try:
            registrations = reader.applications()
        except NotObserved as problem:
            registrations = problem
        try:
            principals = reader.service_principals()
        except NotObserved as problem:
            principals = problem
        owners: dict[str, tuple[str, ...] | NotObserved] = {}
        if isinstance(registrations, dict):
            object_ids = [registrations[key].object_id for key in listed if key in registrations]
            owners = reader.owners(object_ids)
        observer = self.tenant.observer.client_id.lower() if self.tenant.observer else ""
        found = []
        for client_id, rows in listed.items():
            missing: list[str] = []
            unread = self._role_unread(rows)
            presences = tuple(presence for _, _, presence in rows)
            missing += [
                f"roles in {p.environment}: {p.roles_reason}" for p in presences if p.roles is None
            ]
            name = rows[0][1].full_name
            credentials: tuple[CredentialEnd, ...] | None = None
            app_owners: tuple[str, ...] | None = None
            nearest = None
            if isinstance(registrations, NotObserved):
                missing.append(f"app registration: {registrations.reason}")
                unread.append(("app_credentials", registrations.cause, registrations.reason))
            elif client_id not in registrations:
                elsewhere = (
                    "not in this tenant's directory (registered in another tenant, or deleted)"
                )
                missing.append(f"app registration: {elsewhere}")
                unread.append(
                    ("app_credentials", "elsewhere", f"the app registration is {elsewhere}")
                )
            else:
                registration = registrations[client_id]
                name = registration.display_name or name
                registered = registration.credentials
                credentials = tuple(
                    CredentialEnd(c, has_successor(c, registered)) for c in registered
                )
                nearest = app_deadline(registered, self.now)
                owned = owners.get(registration.object_id)
                if isinstance(owned, NotObserved):
                    missing.append(f"owners: {owned.reason}")
                elif owned is not None:
                    app_owners = owned
            enabled: bool | None = None
            principal_found: bool | None = None
            if isinstance(principals, NotObserved):
                missing.append(f"service principal: {principals.reason}")
                unread.append(("service_principal", principals.cause, principals.reason))
            elif client_id in principals:
                enabled, principal_found = principals[client_id], True
            else:
                principal_found = False
                missing.append("service principal: none in this tenant (every sign-in fails)")
            found.append(
                DiscoveredIdentity(
                    tenant=self.tenant.name,
                    kind="application user",
                    key=client_id,
                    display_name=name,
                    environments=presences,
                    configured_as=self._configured_app(client_id),
                    observer=client_id == observer,
                    client_id=client_id,
                    owners=app_owners,
                    credentials=credentials,
                    service_principal_enabled=enabled,
                    service_principal_found=principal_found,
                    not_observed=tuple(missing),
                    nearest=nearest,
                    unread=tuple(unread),
                )
            )
        return found

    def _role_unread(
        self, rows: Sequence[tuple[str, IntegrationUser, EnvironmentPresence]]
    ) -> list[tuple[str, NotObservedCause, str]]:
        return [
            (
                f"security_roles:{p.environment}",
                self.role_causes.get((p.environment, p.systemuser_id), "service_error"),
                p.roles_reason,
            )
            for _, _, p in rows
            if p.roles is None
        ]

    def _users(
        self,
        graph: GraphClient,
        reader: GraphDiscovery,
        listed: dict[str, list[tuple[str, IntegrationUser, EnvironmentPresence]]],
    ) -> list[DiscoveredIdentity]:
        if not listed:
            return []
        directory = GraphDirectory(graph)
        skus: list[SubscribedSku] | None = None
        domains: dict[str, DomainPolicy] | None = None
        organization: TenantInfo | None = None
        try:
            skus = directory.subscribed_skus()
        except NotObserved:
            skus = None
        try:
            domains = {policy.domain: policy for policy in directory.domains()}
        except NotObserved:
            domains = None
        try:
            organization = directory.organization()
        except NotObserved:
            organization = None
        object_ids = [rows[0][1].object_id for rows in listed.values() if rows[0][1].object_id]
        accounts = reader.users([i for i in object_ids if i], skus)
        found = []
        for key, rows in listed.items():
            first = rows[0][1]
            presences = tuple(presence for _, _, presence in rows)
            missing = [
                f"roles in {p.environment}: {p.roles_reason}" for p in presences if p.roles is None
            ]
            identity = DiscoveredIdentity(
                tenant=self.tenant.name,
                kind="non-interactive user",
                key=key,
                display_name=first.full_name or first.domain_name,
                environments=presences,
                user_principal_name=first.domain_name.lower() or None,
            )
            unread = self._role_unread(rows)
            answer = accounts.get(first.object_id or "")
            if answer is None or isinstance(answer, NotObserved):
                why = answer.reason if answer is not None else "the systemuser names no Entra user"
                cause: NotObservedCause = answer.cause if answer is not None else "not_read"
                missing.append(f"Entra account: {why}")
                unread += [("user_account", cause, why), ("user_licences", cause, why)]
            else:
                account, licences = answer
                identity = self._with_account(identity, account, licences, domains, organization)
                missing += identity.not_observed
                if isinstance(licences, NotObserved):
                    unread.append(("user_licences", licences.cause, licences.reason))
            found.append(
                replace(
                    identity,
                    configured_as=self._configured_user(
                        first.domain_name, identity.user_principal_name, first.object_id
                    ),
                    not_observed=tuple(missing),
                    unread=tuple(unread),
                )
            )
        return found

    def _with_account(
        self,
        identity: DiscoveredIdentity,
        account: UserAccount,
        licences: UserLicences | NotObserved,
        domains: dict[str, DomainPolicy] | None,
        organization: TenantInfo | None,
    ) -> DiscoveredIdentity:
        if not account.found:
            return replace(
                identity,
                account=account,
                not_observed=("Entra account: no such user in the tenant",),
            )
        missing = []
        names: tuple[str, ...] | None = None
        if isinstance(licences, NotObserved):
            missing.append(f"licences: {licences.reason}")
        else:
            names = licences.names
        domain = (domains or {}).get(account.domain)
        prediction = predict_password_expiry(account, domain, organization)
        note = prediction.why if prediction.expires is None else ""
        if prediction.never and not note:
            note = "never expires"
        nearest = (
            NearestDeadline(prediction.expires, "password expires")
            if prediction.expires is not None
            else None
        )
        return replace(
            identity,
            display_name=account.display_name or identity.display_name,
            user_principal_name=account.user_principal_name,
            account_enabled=account.account_enabled,
            last_password_change=account.last_password_change,
            password_expires=prediction.expires,
            password_note=note,
            licences=names,
            nearest=nearest,
            not_observed=tuple(missing),
            account=account,
            licence_fact=None if isinstance(licences, NotObserved) else licences,
        )
