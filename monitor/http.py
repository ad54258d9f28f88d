"""HTTP sessions for msal, Dataverse and Graph: explicit trust, explicit proxy, bounded time.

A :class:`MonitorSession` trusts exactly one set of CAs and nothing from the environment, sends
each request once, never follows a redirect, stores no cookies, and bounds every request (headers
and body) by a deadline that a watchdog enforces on the socket. :class:`RecordingClient` is the
``http_client`` msal gets; :func:`odata_error` reads a Graph or Dataverse error body.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import http.cookiejar
import itertools
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool

from monitor import __version__
from monitor.config.model import NetworkConfig

DEFAULT_USER_AGENT = f"dataverse-credential-monitor/{__version__}"
# Discovery documents, token responses and WhoAmI answers are a few kB; a captive portal or a
# misrouted download must not fill the monitor's memory.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_CHUNK_BYTES = 64 * 1024

# Where distributions keep the system CA bundle, after OpenSSL's compiled-in default. The same
# list Go's crypto/x509 searches (root_linux.go).
_SYSTEM_BUNDLE_CANDIDATES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Gentoo, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL 6
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # CentOS, RHEL 7
    "/etc/ssl/cert.pem",  # Alpine, macOS, BSD
)


class DeadlineExceeded(requests.exceptions.Timeout):
    """The request did not complete before its deadline."""


class ResponseTooLarge(requests.exceptions.RequestException):
    """The response body exceeded the size the monitor is willing to read."""


class TrustStoreError(requests.exceptions.RequestException):
    """No CA bundle could be found to verify servers with."""


class HttpResponse(Protocol):
    """The part of a response that msal and the probes read."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class HttpClient(Protocol):
    """What msal accepts as ``http_client`` and what the Dataverse call uses."""

    def get(self, url: str, **kwargs: Any) -> HttpResponse: ...

    def post(self, url: str, **kwargs: Any) -> HttpResponse: ...


def odata_error(body: object) -> Mapping[str, Any] | None:
    """Return the ``error`` object of a parsed OData error body (Graph's and Dataverse's
    ``{"error": {"code": ..., "message": ...}}``), or None when *body* is not one."""
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    return error if isinstance(error, Mapping) else None


def resolve_trust_store(network: NetworkConfig) -> str:
    """Given the network settings, return the CA file or directory every request verifies with.

    A configured ``ca_bundle`` wins. Otherwise the operating system's bundle: OpenSSL's
    compiled-in default file, then the distributions' well-known locations, then OpenSSL's default
    directory. The ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` environment variables are deliberately
    not honoured, for the same reason ``REQUESTS_CA_BUNDLE`` is not: the environment must not
    change what the monitor trusts. certifi is never used: a corporate TLS-inspecting proxy's CA
    is installed in the system store, not in certifi. Raise :class:`TrustStoreError` when nothing
    is found.
    """
    if network.ca_bundle is not None:
        return str(network.ca_bundle)
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.openssl_cafile, *_SYSTEM_BUNDLE_CANDIDATES):
        if candidate and os.path.isfile(candidate):
            return candidate
    if paths.openssl_capath and os.path.isdir(paths.openssl_capath):
        return paths.openssl_capath
    raise TrustStoreError(
        "no system CA bundle found; set network.ca_bundle to the CA file to trust"
    )


# --- the deadline watchdog -------------------------------------------------------------------


@dataclass(eq=False)
class _DeadlineSlot:
    """The sockets one request uses, and whether its deadline already struck."""

    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: bool = True
    expired: bool = False
    sockets: list[socket.socket] = field(default_factory=list)

    def register(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self.lock:
            if not self.active:
                return
            if self.expired:
                _shutdown(sock)
            elif not any(s is sock for s in self.sockets):
                self.sockets.append(sock)

    def expire(self) -> None:
        with self.lock:
            if not self.active:
                return
            self.expired = True
            for sock in self.sockets:
                _shutdown(sock)

    def release(self) -> None:
        with self.lock:
            self.active = False
            self.sockets.clear()


def _shutdown(sock: socket.socket) -> None:
    # The plain socket method, also for an SSLSocket: it only shuts the file descriptor down,
    # which makes a read blocked in another thread return at once, without touching the SSL
    # object that thread is using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that shuts down the sockets of requests whose deadline has passed."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, _DeadlineSlot]] = []
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, slot: _DeadlineSlot) -> None:
        with self._condition:
            heapq.heappush(self._heap, (slot.deadline, next(self._sequence), slot))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="http-deadline-watchdog", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is slot:
                self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    if not self._heap:
                        self._condition.wait()
                        continue
                    deadline, _, slot = self._heap[0]
                    if not slot.active:  # released early: drop it without waiting
                        heapq.heappop(self._heap)
                        continue
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        heapq.heappop(self._heap)
                        break
                    self._condition.wait(wait)
            slot.expire()


_WATCHDOG = _Watchdog()
_CURRENT_SLOT: contextvars.ContextVar[_DeadlineSlot | None] = contextvars.ContextVar(
    "monitor_http_deadline_slot", default=None
)


class _DeadlineConnection(urllib3.connection.HTTPConnection):
    """A connection whose socket the watchdog can shut down when the request's deadline
    passes (the base of the HTTP and the HTTPS connection)."""

    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        slot = _CURRENT_SLOT.get()
        if slot is not None:
            slot.register(self.sock)
        return super().getresponse()


class _DeadlineHTTPConnection(_DeadlineConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnection, urllib3.connection.HTTPSConnection):
    pass


class _DeadlineHTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOL_CLASSES: dict[str, type[urllib3.connectionpool.HTTPConnectionPool]] = {
    "http": _DeadlineHTTPConnectionPool,
    "https": _DeadlineHTTPSConnectionPool,
}


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections let the watchdog reach their sockets."""

    def init_poolmanager(
        self,
        connections: int,
        maxsize: int,
        block: bool = requests.adapters.DEFAULT_POOLBLOCK,
        **pool_kwargs: Any,
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.PoolManager):
            manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager


class _RejectAllCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


# --- the session -----------------------------------------------------------------------------


class MonitorSession(requests.Session):
    """A ``requests.Session`` with explicit trust, proxy, timeouts and a deadline per request.

    Every request made through it:

    * trusts exactly one set of CAs: ``network.ca_bundle`` when configured, otherwise the
      operating system's bundle (:func:`resolve_trust_store`). ``trust_env`` is off, so
      ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``HTTPS_PROXY``, ``NO_PROXY`` and ``.netrc``
      change nothing, and certifi is never consulted;
    * goes through the configured proxy or none;
    * is sent once (``HTTPAdapter(max_retries=0)``): retries belong to the scheduler;
    * never follows a redirect, so a form body holding a client secret or password is never
      re-sent to another host (a 3xx reaches the caller as it is);
    * has a connect and a read timeout, both capped by the time left until its deadline;
    * is read to the end (at most ``max_body_bytes``) before it is returned, under the same
      deadline: a watchdog thread shuts the socket down when the deadline passes, so a server
      that drips one byte a second cannot hold the caller past it (the caller then sees
      :class:`DeadlineExceeded`). Not bounded: DNS resolution and the reads of a TLS handshake
      (each bounded by the connect timeout).

    ``request()`` (and so ``get()``/``post()``) accepts one extra keyword, ``deadline``: a
    ``time.monotonic()`` value the request must finish by. Without it the deadline is
    ``network.probe_deadline_seconds`` from now. Cookies are never stored: a session is shared
    by the probes of one tenant, and nothing one identity's sign-in receives may travel with
    another's. msal builds the ROPC user-realm URL from the authority's host name without its
    port; for an authority host with an explicit port (*authority_hosts*: a simulator, an
    on-premises gateway) the session adds the port back for that URL only.
    """

    def __init__(
        self,
        network: NetworkConfig,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        authority_hosts: Iterable[str] = (),
        pool_maxsize: int = 10,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        super().__init__()
        self.network = network
        self.max_body_bytes = max_body_bytes
        self.trust_env = False
        self.verify = resolve_trust_store(network)
        self.proxies = {"https": network.proxy, "http": network.proxy} if network.proxy else {}
        self.headers["User-Agent"] = user_agent
        self.cookies.set_policy(_RejectAllCookies())
        # pool_connections: hosts kept (the tenant's login host and its environments);
        # pool_maxsize: connections kept per host (the tenant's concurrent probes).
        adapter = _DeadlineAdapter(
            max_retries=0, pool_connections=32, pool_maxsize=max(1, pool_maxsize)
        )
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self._authority_netlocs: dict[str, str] = {}
        for host in authority_hosts:
            parts = urllib.parse.urlsplit(host)
            if parts.hostname and parts.port is not None:
                self._authority_netlocs[parts.hostname.lower()] = parts.netloc

    def bounded(self, deadline: float) -> BoundedClient:
        """Return a client (msal's ``http_client`` shape) whose every request ends by *deadline*."""
        return BoundedClient(self, deadline)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send one request and read its whole response by the deadline.

        Raise :class:`DeadlineExceeded` when the deadline passes first, :class:`ResponseTooLarge`
        when the body exceeds ``max_body_bytes``, or any other ``requests`` exception.
        """
        deadline = kwargs.pop("deadline", None)
        if deadline is None:
            deadline = time.monotonic() + self.network.probe_deadline_seconds
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("the deadline passed before the request was sent")
        kwargs["timeout"] = self._timeouts(kwargs.get("timeout"), remaining)
        kwargs["stream"] = True
        kwargs["allow_redirects"] = False
        url = self._with_authority_port(method, url)
        slot = _DeadlineSlot(deadline)
        token = _CURRENT_SLOT.set(slot)
        _WATCHDOG.arm(slot)
        try:
            try:
                response = super().request(method, url, *args, **kwargs)
                self._read_body(response, deadline)
                if slot.expired:
                    # The watchdog shut the socket: what was read may look complete (headers
                    # ended by EOF, a body without a length) but is cut short.
                    raise DeadlineExceeded("the deadline passed before the response was complete")
            except (requests.exceptions.RequestException, OSError) as exc:
                if isinstance(exc, DeadlineExceeded):
                    raise
                if slot.expired or time.monotonic() >= deadline:
                    raise DeadlineExceeded(
                        "the deadline passed before the response was complete"
                    ) from exc
                raise
        finally:
            slot.release()
            _CURRENT_SLOT.reset(token)
        return response

    def _timeouts(self, requested: Any, remaining: float) -> tuple[float, float]:
        connect = self.network.connect_timeout_seconds
        read = self.network.read_timeout_seconds
        if isinstance(requested, int | float):
            connect = min(connect, float(requested))
            read = min(read, float(requested))
        elif isinstance(requested, tuple) and len(requested) == 2:
            if isinstance(requested[0], int | float):
                connect = min(connect, float(requested[0]))
            if isinstance(requested[1], int | float):
                read = min(read, float(requested[1]))
        return (max(0.001, min(connect, remaining)), max(0.001, min(read, remaining)))

    def _with_authority_port(self, method: str | bytes, url: str | bytes) -> str | bytes:
        if not self._authority_netlocs or method not in ("GET", b"GET") or not isinstance(url, str):
            return url
        parts = urllib.parse.urlsplit(url)
        if (
            parts.scheme == "https"
            and parts.port is None
            and parts.path.startswith("/common/userrealm/")
            and parts.hostname is not None
            and parts.hostname.lower() in self._authority_netlocs
        ):
            return parts._replace(netloc=self._authority_netlocs[parts.hostname.lower()]).geturl()
        return url

    def _read_body(self, response: requests.Response, deadline: float) -> None:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(_CHUNK_BYTES):
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise ResponseTooLarge(f"response body larger than {self.max_body_bytes} bytes")
                chunks.append(chunk)
                if time.monotonic() >= deadline:
                    raise DeadlineExceeded("the deadline passed while the body was arriving")
        except BaseException:
            response.close()
            raise
        response._content = b"".join(chunks)
        response.close()  # the body is consumed: this returns the connection to the pool


class RecordingClient:
    """msal's ``http_client``: GET and POST go through :meth:`send`, and the last answer is
    kept, because msal raises without saying which answer it could not read (the last answer
    tells a throttled or failing service apart from a malformed body)."""

    def __init__(self) -> None:
        self.last: HttpResponse | None = None

    def get(self, url: str, **kwargs: Any) -> HttpResponse:
        return self._record("GET", url, kwargs)

    def post(self, url: str, **kwargs: Any) -> HttpResponse:
        return self._record("POST", url, kwargs)

    def close(self) -> None:
        """Keep the session underneath open: msal may call this, the session outlives it."""

    def send(self, method: str, url: str, kwargs: dict[str, Any]) -> HttpResponse:
        """Send one request (*kwargs* as ``requests`` takes them) and return its answer."""
        raise NotImplementedError

    def _record(self, method: str, url: str, kwargs: dict[str, Any]) -> HttpResponse:
        self.last = None
        response = self.send(method, url, kwargs)
        self.last = response
        return response


class BoundedClient(RecordingClient):
    """msal's ``http_client`` for one probe: every request ends by the same deadline."""

    def __init__(self, session: MonitorSession, deadline: float) -> None:
        super().__init__()
        self.session = session
        self.deadline = deadline

    def send(self, method: str, url: str, kwargs: dict[str, Any]) -> HttpResponse:
        return self.session.request(method, url, deadline=self.deadline, **kwargs)


def build_session(
    network: NetworkConfig,
    *,
    user_agent: str = DEFAULT_USER_AGENT,
    authority_hosts: Iterable[str] = (),
    pool_maxsize: int = 10,
) -> MonitorSession:
    """Return a session for msal, Dataverse and Graph calls configured from *network*.

    *authority_hosts* are the configured Entra authority hosts (``https://host[:port]``) whose
    port must be restored in msal's user-realm URL. Raise :class:`TrustStoreError` when no CA
    bundle can be found.
    """
    return MonitorSession(
        network,
        user_agent=user_agent,
        authority_hosts=authority_hosts,
        pool_maxsize=pool_maxsize,
    )
