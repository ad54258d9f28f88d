"""The :class:`Simulator`: one loopback HTTPS server imitating Entra ID, Graph and Dataverse.

It routes each request to its endpoint family (:mod:`.entra`, :mod:`.graph`, :mod:`.dataverse`;
the table of paths is in docs/simulator.md, "Endpoints"), counts it before any fault applies (a
request that a fault answers or drops is still counted), applies the first matching fault, and
offers the control methods that change the live scenario (docs/simulator.md, "Control
interface").
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import ssl
import tempfile
import threading
import time
import traceback
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509

from monitor.simulator.ca import TlsFiles, ensure_tls_files
from monitor.simulator.control import (
    CONTROL_PATH,
    ControlError,
    new_token,
    perform,
    remove_control_file,
    token_matches,
    write_control_file,
)
from monitor.simulator.dataverse import (
    DataverseService,
    dataverse_error,
    is_metadata_path,
    request_limit_response,
)
from monitor.simulator.entra import (
    EntraError,
    EntraService,
    correlation_id_of,
    documented_error,
    echo_response,
    entra_error_response,
    parse_token_form,
    resources_of_scope,
)
from monitor.simulator.faults import (
    REWRITING_MODES,
    Fault,
    FaultMode,
    RequestInfo,
    take_fault,
)
from monitor.simulator.graph import GraphService, graph_error_response, throttled_response
from monitor.simulator.scenario import (
    ClientCertificate,
    ClientSecret,
    Environment,
    Member,
    Scenario,
    Sku,
    Tenant,
    demo_scenario_path,
    load_scenario,
)
from monitor.simulator.tokens import TokenIssuer
from monitor.simulator.transport import Delivery, Request, Response, TlsHttpServer

logger = logging.getLogger("monitor.simulator")

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
STOP_GRACE_SECONDS = 1.5
POLL_INTERVAL_SECONDS = 0.05

_HTML = "text/html; charset=utf-8"
_ERROR_PAGES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_CAPTIVE_PORTAL = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head>\n<body>"
    b"<h1>Welcome to Guest Wi-Fi</h1><p>Please accept the terms of use to continue.</p>"
    b'<form method="post" action="/portal/accept"><button>Accept</button></form>'
    b"</body></html>\n"
)


class RequestCounters:
    """Thread-safe counts of received requests and of wrong passwords per user."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[RequestInfo] = Counter()
        self._wrong_passwords: Counter[str] = Counter()

    def record(self, info: RequestInfo) -> None:
        with self._lock:
            self._requests[info] += 1

    def record_wrong_password(self, upn: str) -> None:
        with self._lock:
            self._wrong_passwords[upn.lower()] += 1

    def count(
        self,
        family: str | None = None,
        client_id: str | None = None,
        username: str | None = None,
        environment: str | None = None,
    ) -> int:
        client_id = client_id.lower() if client_id else None
        username = username.lower() if username else None
        with self._lock:
            items = list(self._requests.items())
        return sum(
            count
            for info, count in items
            if (family is None or info.family == family)
            and (client_id is None or info.client_id == client_id)
            and (username is None or info.username == username)
            and (environment is None or info.environment == environment)
        )

    def wrong_passwords(self, upn: str) -> int:
        with self._lock:
            return self._wrong_passwords[upn.lower()]

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._wrong_passwords.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            requests = [
                {
                    "family": info.family,
                    "client_id": info.client_id,
                    "username": info.username,
                    "environment": info.environment,
                    "count": count,
                }
                for info, count in sorted(self._requests.items(), key=lambda item: repr(item[0]))
            ]
            wrong = dict(sorted(self._wrong_passwords.items()))
        return {"requests": requests, "failed_password_attempts": wrong}


@dataclass
class _Route:
    info: RequestInfo
    tenant: str = ""  # tenant reference from the path
    username: str = ""
    form: dict[str, str] = field(default_factory=dict)
    environment: Environment | None = None
    claims: dict[str, Any] | None = None
    segment: str = ""  # for 404 answers
    resource: tuple[str, ...] = ()  # a Dataverse metadata path after api/data/v9.x
    fault_path: str = ""  # what a fault's ``path`` is matched against (resource ? query)


class Simulator:
    """A running (after :meth:`start`) imitation of Entra ID and Dataverse on loopback.

    ``scenario`` defaults to the shipped demo scenario. ``state_dir`` keeps the CA and server
    certificate (reused across runs); None uses a temporary directory removed by :meth:`stop`.
    ``port`` 0 picks a free port.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the simulator listens on loopback only (127.0.0.1), not {host!r}")
        self._scenario = scenario if scenario is not None else load_scenario(demo_scenario_path())
        self._state_dir = state_dir
        self._requested_port = port
        self._verbose = verbose
        self._issuer = TokenIssuer()
        self._counters = RequestCounters()
        self._errors: list[str] = []
        self._errors_lock = threading.Lock()
        self._server: TlsHttpServer | None = None
        self._thread: threading.Thread | None = None
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self._tls: TlsFiles | None = None
        self._port = 0
        self._entra: EntraService | None = None
        self._dataverse: DataverseService | None = None
        self._graph: GraphService | None = None
        self._control_token = new_token()
        self._control_file: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Create or reuse the TLS files, bind the port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        state_dir = self._state_dir
        if state_dir is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="monitor-simulator-")
            state_dir = Path(self._temporary.name)
        self._tls = ensure_tls_files(state_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._tls.cert_path, self._tls.key_path)
        context.set_alpn_protocols(["http/1.1"])
        server = TlsHttpServer(
            ("127.0.0.1", self._requested_port), self._handle, context, verbose=self._verbose
        )
        self._port = server.server_address[1]
        self._entra = EntraService(
            self._scenario,
            self._issuer,
            self.authority_host,
            on_wrong_password=self._counters.record_wrong_password,
        )
        self._dataverse = DataverseService(self._scenario, self._issuer, self.authority_host)
        self._graph = GraphService(self._scenario, self._issuer, self.authority_host)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
            name=f"monitor-simulator-{self._port}",
            daemon=True,
        )
        self._thread.start()
        self._control_file = write_control_file(state_dir, self.authority_host, self._control_token)
        return self

    def stop(self) -> None:
        """Stop serving: end every fault wait, close every connection, free the port.

        Returns within about :data:`STOP_GRACE_SECONDS` even with hanging clients; connection
        threads that do not end by then are daemons and cannot keep the process alive.
        """
        server, thread = self._server, self._thread
        if server is None:
            return
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        server.join_workers(deadline)
        self._server = None
        self._thread = None
        if self._control_file is not None:
            remove_control_file(self._control_file, self._control_token)
            self._control_file = None
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def connections_accepted(self) -> int:
        """How many TCP connections the server accepted since it started (keep-alive check)."""
        return self._server.connections_accepted if self._server is not None else 0

    # -- where it is -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        self._require_started()
        return self._port

    @property
    def authority_host(self) -> str:
        """``https://localhost:PORT``: the authority host (instance) for msal."""
        self._require_started()
        return f"https://localhost:{self._port}"

    @property
    def graph_url(self) -> str:
        return f"{self.authority_host}/graph"

    @property
    def ca_path(self) -> Path:
        """The CA certificate (PEM) clients must trust."""
        self._require_started()
        assert self._tls is not None
        return self._tls.ca_path

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    def environment_url(self, name: str) -> str:
        """Return the URL (no trailing slash) of the environment named ``name``."""
        with self._scenario.lock:
            environment = self._scenario.environment(name)
            return f"{self.authority_host}/env/{environment.url_name}"

    def authority(self, tenant: str) -> str:
        """Return the msal authority URL for ``tenant`` (a name, id or domain)."""
        with self._scenario.lock:
            found = self._tenant(tenant)
        return f"{self.authority_host}/{found.tenant_id}"

    def token_endpoint(self, tenant: str) -> str:
        return f"{self.authority(tenant)}/oauth2/v2.0/token"

    @property
    def control_file(self) -> Path:
        """``control.json``: the control URL and token (mode 0600) for
        ``monitor simulator control``; see :mod:`monitor.simulator.control`."""
        self._require_started()
        assert self._control_file is not None
        return self._control_file

    def _require_started(self) -> None:
        if self._tls is None:
            raise RuntimeError("the simulator has not been started")

    # -- changing the scenario at run time ---------------------------------------------------

    def add_secret(
        self, client_id: str, value: str, end: dt.datetime | None = None, *, display_name: str = ""
    ) -> ClientSecret:
        """Add a client secret to an application; ``end`` None never expires."""
        secret = ClientSecret(value=value, end=end, display_name=display_name)
        with self._scenario.lock:
            self._scenario.application(client_id).secrets.append(secret)
        return secret

    def revoke_secret(self, client_id: str, value: str) -> None:
        """Delete the application's secret(s) with ``value``; raise KeyError if there is none."""
        with self._scenario.lock:
            application = self._scenario.application(client_id)
            kept = [secret for secret in application.secrets if secret.value != value]
            if len(kept) == len(application.secrets):
                raise KeyError(f"application {client_id} has no such secret")
            application.secrets[:] = kept

    def add_certificate(
        self,
        client_id: str,
        certificate: x509.Certificate | str | bytes,
        end: dt.datetime | None = None,
    ) -> ClientCertificate:
        """Register a certificate (object or PEM) on an application."""
        registration = (
            ClientCertificate(certificate, end=end)
            if isinstance(certificate, x509.Certificate)
            else ClientCertificate.from_pem(certificate, end=end)
        )
        with self._scenario.lock:
            self._scenario.application(client_id).certificates.append(registration)
        return registration

    def revoke_certificate(self, client_id: str, thumbprint: str) -> None:
        """Remove the certificate with this SHA-1 or SHA-256 hex thumbprint."""
        wanted = bytes.fromhex(thumbprint)
        with self._scenario.lock:
            application = self._scenario.application(client_id)
            kept = [
                certificate
                for certificate in application.certificates
                if wanted not in (certificate.sha1_thumbprint, certificate.sha256_thumbprint)
            ]
            if len(kept) == len(application.certificates):
                raise KeyError(f"application {client_id} has no certificate {thumbprint}")
            application.certificates[:] = kept

    def set_application(
        self,
        client_id: str,
        *,
        enabled: bool | None = None,
        allow_public_client: bool | None = None,
        blocked_by_conditional_access: bool | None = None,
        graph_permissions: list[str] | None = None,
        service_principal: bool | None = None,
    ) -> None:
        """Change an application; ``service_principal=False`` deletes its enterprise application
        in the home tenant (the registration stays)."""
        with self._scenario.lock:
            application = self._scenario.application(client_id)
            if graph_permissions is not None:
                application.graph_permissions[:] = graph_permissions
            _update(
                application,
                service_principal=service_principal,
                enabled=enabled,
                allow_public_client=allow_public_client,
                blocked_by_conditional_access=blocked_by_conditional_access,
            )

    def set_user(
        self,
        upn: str,
        *,
        enabled: bool | None = None,
        locked: bool | None = None,
        password: str | None = None,
        password_expired: bool | None = None,
        mfa_required: bool | None = None,
        blocked_by_conditional_access: bool | None = None,
        licences: list[str] | None = None,
        password_policies: str | None = None,
        password_changed: dt.datetime | None = None,
        synced_from_on_premises: bool | None = None,
    ) -> None:
        """Change a user. ``locked=False`` also ends a smart lockout; a new ``password``
        revokes refresh tokens issued before it and restarts the lockout counter.
        ``password_policies=""`` clears the policies; ``password_changed`` sets
        ``lastPasswordChangeDateTime`` without changing the password."""
        with self._scenario.lock:
            user = self._scenario.user(upn)
            if licences is not None:
                tenant = self._scenario.tenants[user.tenant]
                unknown = [name for name in licences if name not in tenant.skus]
                if unknown:
                    raise KeyError(f"tenant {tenant.name} has no SKU {', '.join(unknown)}")
                user.licences[:] = licences
            if password_policies is not None:
                user.password_policies = password_policies or None
            if password_changed is not None:
                user.password_changed_at = password_changed.timestamp()
            if locked is not None:
                user.locked = locked
                if not locked:
                    user.locked_until = None
                    user.failed_attempts = 0
            if password is not None:
                user.password = password
                user.password_changed_at = time.time()
                user.failed_attempts = 0
            _update(
                user,
                synced_from_on_premises=synced_from_on_premises,
                enabled=enabled,
                password_expired=password_expired,
                mfa_required=mfa_required,
                blocked_by_conditional_access=blocked_by_conditional_access,
            )

    def add_member(
        self,
        environment: str,
        *,
        client_id: str | None = None,
        upn: str | None = None,
        roles: list[str] | None = None,
        **fields: Any,
    ) -> Member:
        """Add the application *client_id* or the user *upn* to *environment* with *roles*;
        *fields*: the member's other fields (``disabled``, ``burst_remaining``,
        ``access_mode`` ...: see :class:`~monitor.simulator.scenario.Member`)."""
        member = Member(app=client_id, user=upn, **fields)
        with self._scenario.lock:
            found = self._scenario.environment(environment)
            member.roles = [found.role(name).name for name in roles or []]
            return found.add_member(member)

    def remove_member(
        self, environment: str, *, client_id: str | None = None, upn: str | None = None
    ) -> None:
        with self._scenario.lock:
            member = self._member(environment, client_id, upn)
            del self._scenario.environment(environment).members[member.key]

    def set_member(
        self,
        environment: str,
        *,
        client_id: str | None = None,
        upn: str | None = None,
        disabled: bool | None = None,
        burst_remaining: int | None = None,
        time_remaining_ms: int | None = None,
        roles: list[str] | None = None,
        teams: list[str] | None = None,
        access_mode: int | None = None,
        licensed: bool | None = None,
        missing_privilege: str | None = None,
    ) -> None:
        """Change a member. Setting ``burst_remaining`` or ``time_remaining_ms`` starts a new
        service-protection window from those values. ``roles`` / ``teams`` replace the
        member's security roles / team memberships (unknown names become custom roles / teams
        without roles). ``missing_privilege`` names a privilege its roles lack ("" clears it)."""
        with self._scenario.lock:
            member = self._member(environment, client_id, upn)
            found = self._scenario.environment(environment)
            if missing_privilege is not None:
                member.missing_privilege = missing_privilege or None
            if roles is not None:
                member.roles = [found.role(name).name for name in roles]
            if teams is not None:
                member.teams = [found.team(name).name for name in teams]
            _update(member, access_mode=access_mode, licensed=licensed, disabled=disabled)
            if burst_remaining is not None or time_remaining_ms is not None:
                member.burst_remaining = burst_remaining
                member.time_remaining_ms = time_remaining_ms
                member.window_started = None

    def set_team(self, environment: str, name: str, *, roles: list[str]) -> None:
        """Create or change a team of ``environment`` and give it ``roles``."""
        with self._scenario.lock:
            found = self._scenario.environment(environment)
            found.team(name).roles[:] = [found.role(role).name for role in roles]

    def set_environment(
        self,
        environment: str,
        *,
        other_noninteractive_users: int | None = None,
        administration_mode: bool | None = None,
    ) -> None:
        """Change how many non-interactive users the environment has besides its members, or
        put it in (or out of) administration mode."""
        with self._scenario.lock:
            _update(
                self._scenario.environment(environment),
                other_noninteractive_users=other_noninteractive_users,
                administration_mode=administration_mode,
            )

    def set_tenant(
        self,
        tenant: str,
        *,
        dataverse_disabled: bool | None = None,
        created: dt.datetime | None = None,
        federated_domains: list[str] | None = None,
    ) -> None:
        """Disable (or enable again) Dynamics CRM's service principal in ``tenant``, change when
        the tenant was created, or which of its domains are federated."""
        with self._scenario.lock:
            found = self._tenant(tenant)
            _update(found, dataverse_disabled=dataverse_disabled, created=created)
            if federated_domains is not None:
                found.federated_domains = tuple(d.lower() for d in federated_domains)

    def set_password_policy(
        self,
        tenant: str,
        *,
        validity_days: int | None,
        notification_days: int | None = None,
    ) -> None:
        """Set the password policy of every domain of ``tenant`` (None: Graph's null)."""
        with self._scenario.lock:
            found = self._tenant(tenant)
            found.password_validity_days = validity_days
            found.password_notification_days = notification_days

    def set_sku(
        self,
        tenant: str,
        part_number: str,
        *,
        enabled: int | None = None,
        consumed: int | None = None,
        warning: int | None = None,
        suspended: int | None = None,
        status: str | None = None,
        applies_to: str | None = None,
        service_plans: list[str] | None = None,
    ) -> Sku:
        """Create or change a subscribed SKU of ``tenant`` (a new one gets the catalogue's
        ``appliesTo`` and service plans unless given)."""
        with self._scenario.lock:
            found = self._tenant(tenant)
            sku = found.skus.get(part_number) or found.add_sku(Sku(part_number))
            _update(
                sku,
                enabled=enabled,
                consumed=consumed,
                warning=warning,
                suspended=suspended,
                status=status,
                applies_to=applies_to,
            )
            if service_plans is not None:
                sku.service_plans = list(service_plans)
            return sku

    def _tenant(self, tenant: str) -> Tenant:
        """Return the tenant named *tenant* (a name, id or domain); KeyError if there is none.
        Call with the scenario's lock held."""
        found = self._scenario.find_tenant(tenant)
        if found is None:
            raise KeyError(f"no tenant {tenant}")
        return found

    def _member(self, environment: str, client_id: str | None, upn: str | None) -> Member:
        found = self._scenario.environment(environment)
        member = (
            found.member_for_app(client_id)
            if client_id is not None
            else found.member_for_user(upn or "")
        )
        if member is None:
            raise KeyError(f"no such member of {environment}")
        return member

    def set_fault(self, family: str, mode: FaultMode, **options: Any) -> Fault:
        """Add a fault (see :mod:`monitor.simulator.faults`); earlier faults take precedence.
        *options*: the fault's other fields (``seconds``, ``retry_after``, ``count``,
        ``client_id`` ...: see :class:`~monitor.simulator.faults.Fault`)."""
        return self._scenario.add_fault(Fault(family=family, mode=mode, **options))

    def clear_faults(self) -> None:
        with self._scenario.lock:
            self._scenario.faults.clear()

    # -- counters ----------------------------------------------------------------------------

    def request_count(
        self,
        family: str | None = None,
        client_id: str | None = None,
        username: str | None = None,
        environment: str | None = None,
    ) -> int:
        """Return how many requests matching every given filter were received (answered,
        failed, faulted or dropped alike)."""
        return self._counters.count(family, client_id, username, environment)

    def failed_password_attempts(self, upn: str) -> int:
        """Return how many token requests for ``upn`` carried a wrong password."""
        return self._counters.wrong_passwords(upn)

    def reset_counters(self) -> None:
        """Zero the request and wrong-password counters (not lockouts or rate limits)."""
        self._counters.reset()

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of exceptions raised while answering (each answered with a 500)."""
        with self._errors_lock:
            return list(self._errors)

    # -- request handling --------------------------------------------------------------------

    def _handle(self, request: Request) -> Delivery:
        try:
            route = self._route(request)
            if route.info.family == "control":
                return Delivery(self._control(request))
            self._counters.record(route.info)
            with self._scenario.lock:
                fault = take_fault(self._scenario.faults, route.info, route.fault_path)
            if fault is not None:
                return self._apply_fault(fault, request, route)
            return Delivery(self._answer(request, route))
        except Exception:  # the server must answer; the traceback is kept for the tests
            formatted = traceback.format_exc()
            logger.error(
                "simulator failed to answer %s %s\n%s", request.method, request.path, formatted
            )
            with self._errors_lock:
                self._errors.append(formatted)
            return Delivery(Response(500, b"simulator internal error", "text/plain"))

    def _route(self, request: Request) -> _Route:
        assert self._entra is not None
        assert self._dataverse is not None
        parts = request.path.split("/")
        count = len(parts)
        first = parts[1] if count > 1 else ""
        if first == "_simulator":
            return _Route(RequestInfo("control"))
        if count == 5 and parts[2:] == ["v2.0", ".well-known", "openid-configuration"]:
            return _Route(RequestInfo("discovery"), tenant=first)
        if count == 5 and parts[2:] == ["oauth2", "v2.0", "token"]:
            form = parse_token_form(request)
            environment = None
            pairs = resources_of_scope(form.get("scope", ""))
            if pairs:
                with self._scenario.lock:
                    environment = self._entra.environment_for_resource(pairs[0][0])
            info = RequestInfo(
                "token",
                client_id=form.get("client_id", "").lower() or None,
                username=form.get("username", "").lower() or None,
                environment=environment.name if environment else None,
            )
            return _Route(info, tenant=first, form=form)
        if count == 4 and first.lower() == "common" and parts[2] == "userrealm":
            username = urllib.parse.unquote(parts[3])
            return _Route(RequestInfo("userrealm", username=username.lower()), username=username)
        if first == "env" and count >= 3:
            with self._scenario.lock:
                environment = self._scenario.environment_by_url_name(parts[2])
            name = environment.name if environment else parts[2]
            rest = parts[3:]
            if (
                len(rest) == 4
                and rest[:2] == ["api", "data"]
                and rest[2].startswith("v9.")
                and rest[3] in ("WhoAmI", "WhoAmI()")
            ):
                claims = self._dataverse.verify_token(request, environment) if environment else None
                client_id = claims.get("appid") if claims else None
                upn = claims.get("upn") if claims else None
                info = RequestInfo(
                    "whoami",
                    client_id=client_id if isinstance(client_id, str) else None,
                    username=upn if isinstance(upn, str) else None,
                    environment=name,
                )
                return _Route(
                    info,
                    environment=environment,
                    claims=claims,
                    fault_path=_fault_path(rest[3:], request.query),
                )
            if (
                len(rest) >= 4
                and rest[:2] == ["api", "data"]
                and rest[2].startswith("v9.")
                and is_metadata_path([urllib.parse.unquote(part) for part in rest[3:]])
            ):
                claims = self._dataverse.verify_token(request, environment) if environment else None
                client_id = claims.get("appid") if claims else None
                info = RequestInfo(
                    "dataverse",
                    client_id=client_id if isinstance(client_id, str) else None,
                    environment=name,
                )
                resource = tuple(urllib.parse.unquote(part) for part in rest[3:])
                return _Route(
                    info,
                    environment=environment,
                    claims=claims,
                    resource=resource,
                    fault_path=_fault_path(rest[3:], request.query),
                )
            return _Route(
                RequestInfo("dataverse", environment=name),
                environment=environment,
                segment=rest[-1] if rest else "",
                fault_path=_fault_path(rest[3:], request.query),
            )
        if first == "graph":
            assert self._graph is not None
            claims = self._graph.verify_token(request)
            client_id = claims.get("appid") if claims else None
            info = RequestInfo("graph", client_id=client_id if isinstance(client_id, str) else None)
            return _Route(info, claims=claims, fault_path=_fault_path(parts[3:], request.query))
        return _Route(RequestInfo("other"))

    def _answer(self, request: Request, route: _Route) -> Response:
        assert self._entra is not None
        assert self._dataverse is not None
        family = route.info.family
        if family == "discovery":
            return self._entra.discovery(request, route.tenant)
        if family == "token":
            return self._entra.token(request, route.tenant, route.form)
        if family == "userrealm":
            return self._entra.user_realm(request, route.username)
        if family in ("whoami", "dataverse"):
            if route.environment is None:
                return Response(404, b"No Dataverse environment is served here.", "text/plain")
            if family == "whoami":
                return self._dataverse.who_am_i(request, route.environment, route.claims)
            if route.resource:
                return self._dataverse.metadata(
                    request, route.environment, route.claims, route.resource
                )
            return self._dataverse.not_found(route.segment)
        if family == "graph":
            assert self._graph is not None
            return self._graph.handle(request, route.claims)
        return Response(404, b"Not Found", "text/plain")

    def _control(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/_simulator/requests":
            body = json.dumps(self._counters.snapshot(), indent=2).encode("utf-8")
            return Response(200, body, "application/json")
        if request.path == CONTROL_PATH:
            return self._operate(request)
        return Response(404, b"Not Found", "text/plain")

    def _operate(self, request: Request) -> Response:
        """Answer a control request (docs/simulator.md, "Control interface")."""
        if not token_matches(request.headers.get("Authorization", ""), self._control_token):
            return _json_answer(401, {"error": "the control token is missing or wrong"})
        if request.method != "POST":
            return _json_answer(405, {"error": "use POST"})
        try:
            document = json.loads(request.body or b"{}")
            if not isinstance(document, dict) or not isinstance(document.get("action"), str):
                raise ControlError('expected a JSON object {"action": ..., "params": {...}}')
            changed = perform(self, document["action"], document.get("params") or {})
        except ValueError:
            return _json_answer(400, {"error": "the request body is not JSON"})
        except ControlError as error:
            return _json_answer(error.status, {"error": str(error)})
        for line in changed:
            logger.info("control: %s", line)
        return _json_answer(200, {"changed": changed})

    def _apply_fault(self, fault: Fault, request: Request, route: _Route) -> Delivery:
        assert self._server is not None
        stopping = self._server.stopping
        mode = fault.mode
        family = route.info.family
        if mode in ("http_500", "http_502", "http_503"):
            status = int(mode.removeprefix("http_"))
            phrase = _ERROR_PAGES[status]
            page = (
                f"<html><head><title>{status} {phrase}</title></head><body><h1>{status} "
                f"{phrase}</h1><hr><p>Microsoft-Azure-Application-Gateway/v2</p></body></html>\n"
            ).encode("ascii")
            headers = (
                [("Retry-After", str(fault.retry_after))]
                if status == 503 and fault.retry_after
                else []
            )
            return Delivery(Response(status, page, _HTML, headers))
        if mode == "throttle_429":
            headers = [("Retry-After", str(fault.retry_after))]
            if family == "token" and not fault.text_body:
                failure = EntraError(
                    "temporarily_unavailable",
                    90055,
                    "TenantThrottlingError - There are too many incoming requests. This "
                    "exception is thrown for blocked tenants.",
                    status=429,
                )
                response = entra_error_response(
                    failure, correlation_id_of(request), headers=headers
                )
                return Delivery(response)
            if family in ("whoami", "dataverse") and not fault.text_body:
                return Delivery(request_limit_response(route.environment, fault.retry_after))
            if family == "graph" and not fault.text_body:
                return Delivery(throttled_response(fault.retry_after))
            return Delivery(Response(429, b"Too Many Requests", "text/plain", headers))
        if mode == "aadsts":
            pairs = resources_of_scope(route.form.get("scope", ""))
            failure = documented_error(
                int(fault.value),
                client=route.info.client_id or "",
                tenant=route.tenant,
                resource=pairs[0][0] if pairs else "",
                user=route.info.username or "",
            )
            return Delivery(entra_error_response(failure, correlation_id_of(request)))
        if mode == "loop_detected":
            failure = EntraError(
                "invalid_grant",
                50196,
                "The server terminated an operation because it encountered a client request "
                "loop. Please contact your app vendor.",
            )
            return Delivery(entra_error_response(failure, correlation_id_of(request)))
        if mode in ("http_400", "http_404"):
            return Delivery(self._error_answer(int(mode.removeprefix("http_")), request, route))
        if mode in REWRITING_MODES:
            return Delivery(_rewrite(fault, self._answer(request, route)))
        if mode == "slow":
            if stopping.wait(fault.seconds):
                return Delivery(None, drop=True)
            return Delivery(self._answer(request, route))
        if mode == "drip":
            return Delivery(self._answer(request, route), drip_seconds=fault.seconds)
        if mode == "hang":
            stopping.wait()
            return Delivery(None, drop=True)
        if mode == "drop":
            return Delivery(None, drop=True)
        if mode == "echo":
            return Delivery(echo_response(fault.encoding, route.form, correlation_id_of(request)))
        if mode == "malformed_json":
            body = json.dumps(self._plausible_body(family)).encode("utf-8")
            return Delivery(
                Response(200, body[: len(body) // 2], "application/json; charset=utf-8")
            )
        # html: a captive portal or proxy login page instead of the service
        return Delivery(Response(200, _CAPTIVE_PORTAL, _HTML))

    def _error_answer(self, status: int, request: Request, route: _Route) -> Response:
        """Return the 400 / 404 each service answers, in its own error format."""
        family = route.info.family
        if family == "graph":
            if status == 404:
                return graph_error_response(
                    404,
                    "Request_ResourceNotFound",
                    f"Resource '{route.fault_path.partition('?')[0]}' does not exist or one of its "
                    "queried reference-property objects are not present.",
                )
            return graph_error_response(400, "BadRequest", "Invalid request.")
        if family in ("whoami", "dataverse"):
            if status == 404:
                return dataverse_error(
                    404,
                    "0x80040217",
                    f"systemuser With Id = {_key_of(route.fault_path)} Does Not Exist",
                )
            return dataverse_error(
                400, "0x80060888", "Syntax error: character '!' is not valid at position 0."
            )
        if family == "token":
            failure = EntraError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
            return entra_error_response(failure, correlation_id_of(request))
        phrase = "Bad Request" if status == 400 else "Not Found"
        return Response(status, phrase.encode("ascii"), "text/plain")

    def _plausible_body(self, family: str) -> dict[str, Any]:
        if family == "token":
            return {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9." + "A" * 200,
            }
        if family == "discovery":
            return {
                "token_endpoint": f"{self.authority_host}/common/oauth2/v2.0/token",
                "issuer": f"{self.authority_host}/common/v2.0",
            }
        if family == "userrealm":
            return {"ver": "1.0", "account_type": "Managed", "domain_name": "contoso.com"}
        if family == "graph":
            return {"@odata.context": f"{self.graph_url}/v1.0/$metadata#domains", "value": []}
        if family == "dataverse":
            return {"@odata.context": "$metadata#systemusers", "value": []}
        return {
            "@odata.context": f"{self.authority_host}/env/x/api/data/v9.2/$metadata#"
            "Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": "00000000-0000-0000-0000-000000000000",
        }


def _json_answer(status: int, document: dict[str, Any]) -> Response:
    return Response(status, json.dumps(document).encode("utf-8"), "application/json")


def _update(target: object, **changes: object) -> None:
    """Set each attribute of *target* given a value (None: leave it as it is)."""
    for name, value in changes.items():
        if value is not None:
            setattr(target, name, value)


def _fault_path(parts: list[str], query: str) -> str:
    """Return ``resource?query`` (URL-decoded) of a Graph or Dataverse request."""
    path = urllib.parse.unquote("/".join(parts))
    decoded = urllib.parse.unquote_plus(query) if query else ""
    return f"{path}?{decoded}" if decoded else path


def _key_of(path: str) -> str:
    """Return the GUID of the last ``entity(key)`` segment of *path* (for a 404 message)."""
    found = re.findall(r"\(([0-9A-Fa-f-]{36})\)", path.partition("?")[0])
    return found[-1] if found else "00000000-0000-0000-0000-000000000000"


def _rewrite(fault: Fault, response: Response) -> Response:
    """Return *response* changed the way *fault* says (a JSON body; anything else unchanged)."""
    if fault.mode == "truncated":
        body = response.body or b""
        return Response(
            response.status,
            body[: max(1, len(body) // 2)],
            response.content_type,
            list(response.headers),
        )
    try:
        document = json.loads(response.body or b"")
    except ValueError:
        return response
    if not isinstance(document, dict):
        return response
    targets = [document]
    items = document.get("value")
    if isinstance(items, list):
        targets = [item for item in items if isinstance(item, dict)]
    if fault.mode == "foreign_next_link":
        document["@odata.nextLink"] = "https://elsewhere.example/v1.0/items?$skiptoken=b2Zmc2V0OjE"
    for target in targets:
        if fault.mode == "missing_field":
            target.pop(fault.field or "", None)
        elif fault.mode == "unknown_enum" and fault.field:
            target[fault.field] = fault.value
    return Response(
        response.status,
        json.dumps(document).encode("utf-8"),
        response.content_type,
        list(response.headers),
    )
