"""What every probe gets from its caller: clock, fingerprint key, HTTP clients, shared caches."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from monitor.config.model import Config, NetworkConfig, TenantConfig
from monitor.http import DEFAULT_USER_AGENT, HttpClient, MonitorSession, build_session
from monitor.model.clock import utcnow
from monitor.probes.assertion import CertificateAssertions
from monitor.probes.discovery import DiscoveryCache

HttpClientFactory = Callable[[TenantConfig, float], HttpClient]
"""Given a tenant and a ``time.monotonic()`` deadline, return the HTTP client one probe uses."""


class SessionPool:
    """One :class:`~monitor.http.MonitorSession` per tenant, shared by that tenant's probes.

    Sharing keeps TLS connections to the tenant's login host and environments alive between
    probes (no handshake per request). It shares nothing that could answer for Entra: msal's
    token and HTTP caches live in the per-probe application objects, and the session stores no
    cookies.
    """

    def __init__(
        self,
        network: NetworkConfig,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        pool_maxsize: int = 10,
    ) -> None:
        self.network = network
        self.user_agent = user_agent
        self.pool_maxsize = pool_maxsize
        self._sessions: dict[str, MonitorSession] = {}
        self._lock = threading.Lock()

    def session(self, tenant: TenantConfig) -> MonitorSession:
        """Return the tenant's session, building it on first use.

        Raise :class:`~monitor.http.TrustStoreError` when no CA bundle can be found.
        """
        key = f"{tenant.name}\0{tenant.authority_host}"
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = build_session(
                    self.network,
                    user_agent=self.user_agent,
                    authority_hosts=[tenant.authority_host],
                    pool_maxsize=self.pool_maxsize,
                )
                self._sessions[key] = session
            return session

    def __call__(self, tenant: TenantConfig, deadline: float) -> HttpClient:
        return self.session(tenant).bounded(deadline)

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session.close()


@dataclass(frozen=True)
class ProbeContext:
    """Everything a probe needs besides its identity and the configuration.

    ``clock`` stamps results (aware UTC); ``monotonic`` measures durations and the deadline;
    ``fingerprint_key`` keys the credential fingerprint; ``http_clients`` hands out one HTTP
    client per probe bound to its deadline; ``discovery_cache`` (OIDC discovery only) and
    ``assertions`` (parsed certificates) are shared across probes and never hold an answer
    that could stand in for a sign-in.
    """

    fingerprint_key: bytes = field(repr=False)
    http_clients: HttpClientFactory
    deadline_seconds: float = 30.0
    clock: Callable[[], datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic
    discovery_cache: DiscoveryCache = field(default_factory=DiscoveryCache)
    assertions: CertificateAssertions = field(default_factory=CertificateAssertions)

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        fingerprint_key: bytes,
        clock: Callable[[], datetime] = utcnow,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> ProbeContext:
        """Return the production context: one session per tenant, sized for the tenant limit."""
        pool = SessionPool(
            config.network,
            user_agent=user_agent,
            pool_maxsize=max(config.probing.per_tenant_concurrency, 1),
        )
        return cls(
            fingerprint_key=fingerprint_key,
            http_clients=pool,
            deadline_seconds=config.network.probe_deadline_seconds,
            clock=clock,
        )
