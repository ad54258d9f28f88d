"""The directory step: read each due tenant's Graph and Dataverse metadata and record it.

A tenant is *due* when it was never read, when ``[directory] interval_hours`` have passed since
its last read, when an identity appeared in the configuration, or when a configured secret or
certificate changed; after a read that failed for a reason that may pass (throttled,
unreachable, 5xx) it is due again after :data:`RETRY_MINUTES`. Each fact that cannot be read is
recorded as "not observed: <why>" while the rest is still read (docs/posture.md). Readers get
no store; this module is the only place where directory reads and the store meet.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from monitor.config.model import Config, IdentityConfig, TenantConfig
from monitor.directory.client import NotObserved, ReadPolicy, Sleep
from monitor.directory.dataverse import DataverseClient, DataverseDirectory, dataverse_headers
from monitor.directory.graph import ConfiguredCredential, GraphClient, GraphDirectory
from monitor.directory.tokens import ObserverTokens
from monitor.findings.posture import OBSERVER_SUBJECT, Posture
from monitor.http import MonitorSession, build_session
from monitor.model.clock import Clock, utcnow
from monitor.model.discovery import is_watched_name
from monitor.model.findings import Finding
from monitor.model.observations import (
    TRANSIENT_CAUSES,
    AppCredentials,
    Fact,
    NotObservedCause,
    Observation,
    PostureChange,
    Source,
    SubscribedSku,
    UserAccount,
)
from monitor.pipeline.posture import local_observations, posture_from_store
from monitor.store import Store

log = structlog.get_logger("monitor.directory")

SessionFactory = Callable[[TenantConfig], MonitorSession]

# Facts a tenant's read produces, by scope (used to say "not observed" for each of them).
_GRAPH_TENANT_KINDS = ("subscribed_sku", "domain_policy", "organization")
_APPLICATION_KINDS = ("service_principal", "app_credentials")
_USER_KINDS = ("user_account", "user_licences")
_SYSTEMUSER_KINDS = ("systemuser", "security_roles")


# After a read that failed for a reason that may pass, the tenant is read again after these many
# minutes (then every hour, or its interval if that is shorter), so that a blip clears within
# minutes and "not observed" ([directory] not_observed_after_failures / _minutes) is decided on
# several reads rather than on one that happened to fail.
RETRY_MINUTES = (5, 10, 15, 30, 60)
# Facts posture watching records (carried over as they were when a read fails).
_WATCHED = ("discovered_identity",)


def retry_delay(facts: Sequence[Observation]) -> timedelta:
    """Return how soon a tenant whose stored *facts* these are is read again after a failure:
    :data:`RETRY_MINUTES` by the number of reads in a row that failed for a reason that may
    pass; never (``timedelta.max``) when none did."""
    failed = max((fact.failed_reads for fact in facts if fact.cause in TRANSIENT_CAUSES), default=0)
    if failed == 0:
        return timedelta.max
    return timedelta(minutes=RETRY_MINUTES[min(failed, len(RETRY_MINUTES)) - 1])


@dataclass(frozen=True)
class DirectoryPassResult:
    """What one directory pass did and what the posture is now.

    ``observations`` / ``changes`` are those of the tenants read in this pass; ``findings`` and
    ``posture`` cover every current fact of every configured tenant (read now or earlier).
    """

    run_id: str
    started_at: datetime
    finished_at: datetime
    tenants_read: tuple[str, ...]
    tenants_skipped: tuple[str, ...]
    observations: tuple[Observation, ...]
    changes: tuple[PostureChange, ...]
    posture: Posture

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.posture.findings


def _tenant_identities(config: Config, tenant: str) -> list[IdentityConfig]:
    return [identity for identity in config.identities.values() if identity.tenant == tenant]


class _TenantRead:
    """The observations of one tenant's read, and how to say that a fact was not observed."""

    def __init__(self, tenant: str, now: datetime) -> None:
        self.tenant = tenant
        self.now = now
        self.observations: list[Observation] = []

    def add(self, fact: Fact, source: Source, **scope: Any) -> None:
        """Note *fact*, read from *source*; *scope*: identity, environment, subject."""
        self.observations.append(
            Observation.of(fact, tenant=self.tenant, source=source, observed_at=self.now, **scope)
        )

    def missing(
        self,
        kinds: Sequence[str],
        source: Source,
        cause: NotObservedCause,
        reason: str,
        **scope: Any,
    ) -> None:
        """Note that the facts of *kinds* could not be read from *source*, and why."""
        self.observations.extend(
            Observation.missing(
                kind,
                tenant=self.tenant,
                source=source,
                observed_at=self.now,
                cause=cause,
                reason=reason,
                **scope,
            )
            for kind in kinds
        )


class DirectoryPass:
    """Read the directories of due tenants, record what was observed, evaluate the posture.

    *fingerprint_key* (the store's) lets the pass notice a rotated configured credential; without
    it only the interval makes a tenant due. *sessions* builds the HTTP session of a tenant
    (default: :func:`monitor.http.build_session` from ``[network]``); *sleep* is what a
    ``Retry-After`` waits with.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        fingerprint_key: bytes | None = None,
        clock: Clock = utcnow,
        sessions: SessionFactory | None = None,
        sleep: Sleep = time.sleep,
        policy: ReadPolicy | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.fingerprint_key = fingerprint_key
        self.clock = clock
        self.sessions = sessions or self._session
        self.sleep = sleep
        self.policy = policy or ReadPolicy(request_seconds=config.network.probe_deadline_seconds)

    def _session(self, tenant: TenantConfig) -> MonitorSession:
        return build_session(self.config.network, authority_hosts=[tenant.authority_host])

    # --- when -----------------------------------------------------------------------------------

    def due_tenants(self, now: datetime) -> list[str]:
        """Return the configured tenants (with identities) whose directory should be read now."""
        last = self.store.posture.last_reads()
        interval = timedelta(hours=self.config.directory.interval_hours)
        due = []
        for name in self.config.tenants:
            identities = _tenant_identities(self.config, name)
            if not identities:
                continue
            read = last.get(name)
            # A read stored in the future (the clock was ahead, then set back) tells nothing
            # of when the tenant was last read: it is due, not due when the clock catches up.
            if read is None or read > now or read + interval <= now:
                due.append(name)
                continue
            facts = self.store.posture.current(tenant=name)
            if read + min(retry_delay(facts), interval) <= now or self._config_changed(
                facts, identities
            ):
                due.append(name)
        return due

    def _config_changed(
        self, facts: Sequence[Observation], identities: Sequence[IdentityConfig]
    ) -> bool:
        read = {o.identity for o in facts if o.source in ("graph", "dataverse") and o.identity}
        if any(identity.name not in read for identity in identities):
            return True
        if self.fingerprint_key is None:
            return False
        wanted = {
            identity.name: identity.credential().fingerprint(self.fingerprint_key)
            for identity in identities
            if identity.kind == "application"
        }
        for observation in facts:
            fact = observation.fact
            if (
                isinstance(fact, AppCredentials)
                and observation.identity in wanted
                and fact.configured_fingerprint is not None
                and fact.configured_fingerprint != wanted[observation.identity]
            ):
                return True
        return False

    # --- the pass -------------------------------------------------------------------------------

    def run(
        self,
        now: datetime | None = None,
        *,
        force: bool = False,
        tenants: Sequence[str] | None = None,
    ) -> DirectoryPassResult:
        """Read the due tenants (every tenant with *force*; only *tenants* when given), record
        the observations and changes, and return the report with the posture of all tenants.

        Never raises for what a directory answers; raises :class:`~monitor.store.StoreError`
        when the database cannot be written.
        """

        started_at = now or self.clock()
        run_id = uuid.uuid4().hex
        candidates = [name for name in self.config.tenants if _tenant_identities(self.config, name)]
        if tenants is not None:
            candidates = [name for name in candidates if name in tenants]
        due = candidates if force else [n for n in self.due_tenants(started_at) if n in candidates]
        skipped = tuple(name for name in candidates if name not in due)
        local = local_observations(self.config, started_at)
        observations: list[Observation] = []
        read_now: list[str] = []
        for name in due:
            begun = time.monotonic()
            if self.policy.until is not None and begun >= self.policy.until:
                log.warning("directory read not started: the check's time ran out", tenant=name)
                continue  # not recorded: the tenant stays due
            read_now.append(name)
            read = self.read_tenant(self.config.tenants[name], started_at)
            read += [o for o in local if o.tenant == name]
            observations += read
            missing = sum(1 for o in read if not o.observed)
            log.info(
                "directory read",
                run_id=run_id,
                tenant=name,
                observations=len(read),
                not_observed=missing,
                duration_ms=int((time.monotonic() - begun) * 1000),
            )
        changes: list[PostureChange] = []
        if read_now:
            changes = self.store.posture.record(
                run_id, observations, tenants=read_now, at=started_at
            )
        finished_at = self.clock() if now is None else started_at
        posture = posture_from_store(self.store, self.config, started_at)
        return DirectoryPassResult(
            run_id=run_id,
            started_at=started_at,
            finished_at=finished_at,
            tenants_read=tuple(read_now),
            tenants_skipped=(*skipped, *(name for name in due if name not in read_now)),
            observations=tuple(observations),
            changes=tuple(changes),
            posture=posture,
        )

    def read_tenant(self, tenant: TenantConfig, now: datetime) -> list[Observation]:
        """Return the Graph and Dataverse observations of *tenant* (no local facts, no store)."""
        read = _TenantRead(tenant.name, now)
        identities = _tenant_identities(self.config, tenant.name)
        if tenant.observer is None:
            self._without_observer(read, tenant, identities)
            return read.observations
        try:
            session = self.sessions(tenant)
        except Exception as exc:  # no trust store: everything is unreachable, said once each
            self._all_missing(read, identities, "unreachable", f"no HTTP session: {exc}")
            return read.observations
        try:
            tokens = ObserverTokens(
                tenant,
                tenant.observer,
                session,
                request_seconds=self.policy.request_seconds,
            )
            self._read_graph(read, tenant, identities, session, tokens)
            self._read_dataverse(read, identities, session, tokens)
            if self.config.discovery.watch == "posture":
                read.observations += self._watch(tenant, now, session, tokens)
        except Exception as exc:  # a reader bug must not take the pass (or a check) down
            log.error("directory read failed", tenant=tenant.name, error=type(exc).__name__)
            unread = _TenantRead(tenant.name, now)
            reason = f"the read stopped on an internal error ({type(exc).__name__})"
            self._all_missing(unread, identities, "service_error", reason)
            unread.missing(
                ("app_credentials",), "graph", "service_error", reason, subject="observer"
            )
            seen = {(o.kind, o.identity, o.environment) for o in read.observations}
            read.observations += [
                o for o in unread.observations if (o.kind, o.identity, o.environment) not in seen
            ]
            if self.config.discovery.watch == "posture":
                read.observations = [
                    o
                    for o in read.observations
                    if o.kind not in _WATCHED and not is_watched_name(o.identity)
                ]
                read.observations += self._watch(tenant, now, None, None, reason)
        finally:
            session.close()
        return read.observations

    def _watch(
        self,
        tenant: TenantConfig,
        now: datetime,
        session: MonitorSession | None,
        tokens: ObserverTokens | None,
        failed: str = "",
    ) -> list[Observation]:
        """Return the observations of posture watching (``[discovery] watch = "posture"``):
        discover in the tenant's environments with the pass's session and observer, or, when
        the read *failed*, keep what was stored as not read now (docs/discovery.md)."""
        from monitor.model.discovery import TenantDiscovery
        from monitor.pipeline.discovery import Discovery
        from monitor.pipeline.watch import watch_observations

        names = [n for n, e in self.config.environments.items() if e.tenant == tenant.name]
        if session is None or tokens is None:
            found = TenantDiscovery(
                tenant.name, (), unread=tuple((n, "service_error", failed) for n in names)
            )
        else:
            discovery = Discovery(self.config, sleep=self.sleep, policy=self.policy)
            found = discovery.read_with(tenant, names, now, session, tokens)
        return watch_observations(found, self.store.posture.current(tenant=tenant.name), now)

    def _without_observer(
        self, read: _TenantRead, tenant: TenantConfig, identities: Sequence[IdentityConfig]
    ) -> None:
        reason = (
            f"no observer is configured for tenant {tenant.name} (tenants.{tenant.name}.observer)"
        )
        self._all_missing(read, identities, "no_observer", reason)

    def _all_missing(
        self,
        read: _TenantRead,
        identities: Sequence[IdentityConfig],
        cause: NotObservedCause,
        reason: str,
    ) -> None:
        read.missing(_GRAPH_TENANT_KINDS, "graph", cause, reason)
        for identity in identities:
            kinds = _APPLICATION_KINDS if identity.kind == "application" else _USER_KINDS
            read.missing(kinds, "graph", cause, reason, identity=identity.name)
        for environment in self._environments(identities):
            read.missing(
                ("noninteractive_users",), "dataverse", cause, reason, environment=environment
            )
            for identity in identities:
                if environment in identity.environments:
                    read.missing(
                        _SYSTEMUSER_KINDS,
                        "dataverse",
                        cause,
                        reason,
                        identity=identity.name,
                        environment=environment,
                    )

    def _environments(self, identities: Sequence[IdentityConfig]) -> list[str]:
        names: list[str] = []
        for identity in identities:
            for environment in identity.environments:
                if environment not in names and environment in self.config.environments:
                    names.append(environment)
        return names

    def _configured(self, identity: IdentityConfig) -> ConfiguredCredential:
        fingerprint = (
            identity.credential().fingerprint(self.fingerprint_key)
            if self.fingerprint_key is not None
            else None
        )
        return ConfiguredCredential.of(
            secret=identity.secret,
            certificate=identity.certificate,
            key_id=identity.credential_key_id,
            fingerprint=fingerprint,
        )

    def _read_graph(
        self,
        read: _TenantRead,
        tenant: TenantConfig,
        identities: Sequence[IdentityConfig],
        session: MonitorSession,
        tokens: ObserverTokens,
    ) -> None:
        client = GraphClient(
            session,
            f"{tenant.graph_url}/v1.0",
            tokens.for_resource(tenant.graph_url),
            service="Graph",
            headers={"Accept": "application/json"},
            policy=self.policy,
            sleep=self.sleep,
        )
        graph = GraphDirectory(client)
        skus: list[SubscribedSku] | None = None
        try:
            skus = graph.subscribed_skus()
            for sku in skus:
                read.add(sku, "graph", subject=sku.sku_id)
        except NotObserved as problem:
            read.missing(("subscribed_sku",), "graph", problem.cause, problem.reason)
        try:
            for domain in graph.domains():
                read.add(domain, "graph", subject=domain.domain)
        except NotObserved as problem:
            read.missing(("domain_policy",), "graph", problem.cause, problem.reason)
        try:
            read.add(graph.organization(), "graph")
        except NotObserved as problem:
            read.missing(("organization",), "graph", problem.cause, problem.reason)
        for identity in identities:
            if identity.kind == "application":
                self._read_application(read, graph, identity)
            else:
                self._read_user(read, graph, identity, skus)
        observer = tenant.observer
        assert observer is not None
        configured = ConfiguredCredential.of(
            secret=observer.secret,
            certificate=observer.certificate,
            fingerprint=None,
        )
        try:
            read.add(
                graph.app_credentials(observer.client_id, configured),
                "graph",
                subject=OBSERVER_SUBJECT,
            )
        except NotObserved as problem:
            read.missing(
                ("app_credentials",),
                "graph",
                problem.cause,
                problem.reason,
                subject=OBSERVER_SUBJECT,
            )

    def _read_application(
        self, read: _TenantRead, graph: GraphDirectory, identity: IdentityConfig
    ) -> None:
        name = identity.name
        try:
            read.add(graph.service_principal(identity.client_id), "graph", identity=name)
        except NotObserved as problem:
            read.missing(
                ("service_principal",), "graph", problem.cause, problem.reason, identity=name
            )
        try:
            read.add(
                graph.app_credentials(identity.client_id, self._configured(identity)),
                "graph",
                identity=name,
            )
        except NotObserved as problem:
            read.missing(
                ("app_credentials",), "graph", problem.cause, problem.reason, identity=name
            )

    def _read_user(
        self,
        read: _TenantRead,
        graph: GraphDirectory,
        identity: IdentityConfig,
        skus: Sequence[SubscribedSku] | None,
    ) -> None:
        name = identity.name
        try:
            account, licences = graph.user(identity.username or "", skus)
        except NotObserved as problem:
            read.missing(_USER_KINDS, "graph", problem.cause, problem.reason, identity=name)
            return
        read.add(account, "graph", identity=name)
        if isinstance(licences, NotObserved):
            read.missing(
                ("user_licences",), "graph", licences.cause, licences.reason, identity=name
            )
        else:
            read.add(licences, "graph", identity=name)

    def _read_dataverse(
        self,
        read: _TenantRead,
        identities: Sequence[IdentityConfig],
        session: MonitorSession,
        tokens: ObserverTokens,
    ) -> None:
        accounts = {
            o.identity: o.fact
            for o in read.observations
            if o.kind == "user_account" and isinstance(o.fact, UserAccount)
        }
        for name in self._environments(identities):
            environment = self.config.environments[name]
            client = DataverseClient(
                session,
                environment.url,
                tokens.for_resource(environment.url),
                service=f"Dataverse environment {name}",
                headers=dataverse_headers(),
                policy=self.policy,
                sleep=self.sleep,
            )
            client.environment = name
            dataverse = DataverseDirectory(client)
            members = [i for i in identities if name in i.environments]
            try:
                read.add(dataverse.noninteractive_users(), "dataverse", environment=name)
            except NotObserved as problem:
                read.missing(
                    ("noninteractive_users",),
                    "dataverse",
                    problem.cause,
                    problem.reason,
                    environment=name,
                )
                if problem.cause != "service_error":
                    # The observer cannot read this environment at all (not a member, no
                    # privilege, no token, no network): the same answer holds for every fact.
                    for identity in members:
                        read.missing(
                            _SYSTEMUSER_KINDS,
                            "dataverse",
                            problem.cause,
                            problem.reason,
                            identity=identity.name,
                            environment=name,
                        )
                    continue
            for identity in members:
                account = accounts.get(identity.name)
                self._read_systemuser(
                    read,
                    dataverse,
                    identity,
                    name,
                    account if isinstance(account, UserAccount) else None,
                )

    def _read_systemuser(
        self,
        read: _TenantRead,
        dataverse: DataverseDirectory,
        identity: IdentityConfig,
        environment: str,
        account: UserAccount | None,
    ) -> None:
        name = identity.name
        try:
            if identity.kind == "application":
                user = dataverse.systemuser_for_application(identity.client_id)
            else:
                object_id = account.object_id if account is not None and account.found else None
                user = dataverse.systemuser_for_user(identity.username or "", object_id)
        except NotObserved as problem:
            read.missing(
                _SYSTEMUSER_KINDS,
                "dataverse",
                problem.cause,
                problem.reason,
                identity=name,
                environment=environment,
            )
            return
        read.add(user, "dataverse", identity=name, environment=environment)
        if not user.found or user.systemuser_id is None:
            return
        try:
            read.add(
                dataverse.roles(user.systemuser_id),
                "dataverse",
                identity=name,
                environment=environment,
            )
        except NotObserved as problem:
            read.missing(
                ("security_roles",),
                "dataverse",
                problem.cause,
                problem.reason,
                identity=name,
                environment=environment,
            )
