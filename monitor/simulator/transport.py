"""HTTPS plumbing: a threading HTTP/1.1 server over TLS that is cheap per request and stops fast.

Per request the handler reads the request, asks the application for a :class:`Delivery` and
writes the whole response (status line, headers, body) with one ``sendall``. Together with
``TCP_NODELAY`` on every accepted socket this avoids the ~40 ms Nagle / delayed-ACK stall that a
two-write response suffers on loopback. Connections are kept alive (``Content-Length`` is
always set). The TLS handshake runs in the connection's own thread, so a client that connects
and stays silent cannot stall the accept loop.

Stopping sets :attr:`TlsHttpServer.stopping` (every fault waits on it), shuts down the socket of
every open connection (which wakes threads blocked in ``recv``) and joins the connection
threads; all threads are daemons, so nothing here can keep the process alive.
"""

from __future__ import annotations

import contextlib
import email.utils
import http
import logging
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger("monitor.simulator")

HANDSHAKE_TIMEOUT_SECONDS = 10.0
IDLE_TIMEOUT_SECONDS = 120.0
MAX_BODY_BYTES = 1 << 20
_REASONS = {status.value: status.phrase for status in http.HTTPStatus}


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # without the query string
    query: str
    headers: Message
    body: bytes


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)

    def to_bytes(self, *, close: bool) -> bytes:
        """Return the complete HTTP/1.1 response message."""
        lines = [
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Unknown')}",
            f"Date: {email.utils.formatdate(usegmt=True)}",
        ]
        if self.content_type is not None:
            lines.append(f"Content-Type: {self.content_type}")
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        lines.append(f"Content-Length: {len(self.body)}")
        if close:
            lines.append("Connection: close")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("latin-1") + self.body


@dataclass(slots=True)
class Delivery:
    """How to answer: a response, optionally dripped, or no answer at all."""

    response: Response | None  # None together with drop: close without answering
    drip_seconds: float | None = None  # send one byte every drip_seconds
    drop: bool = False


Application = Callable[[Request], Delivery]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS
    server: TlsHttpServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header else 0
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._send(Response(400, b"bad Content-Length", "text/plain"), close=True)
            return
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            self.close_connection = True
            return
        path, _, query = self.path.partition("?")
        request = Request(method, path, query, self.headers, body)
        delivery = self.server.application(request)
        if self.server.stopping.is_set():
            self.close_connection = True
        if delivery.response is None or delivery.drop:
            self.close_connection = True
            return
        if delivery.drip_seconds is not None:
            self._drip(delivery.response, delivery.drip_seconds)
            return
        self._send(delivery.response, close=self.close_connection)

    def _send(self, response: Response, *, close: bool) -> None:
        # One write: wfile is unbuffered, so this is one sendall on the socket.
        self.wfile.write(response.to_bytes(close=close))
        if close:
            self.close_connection = True

    def _drip(self, response: Response, seconds: float) -> None:
        self.close_connection = True
        data = response.to_bytes(close=True)
        for index in range(len(data)):
            if index and self.server.stopping.wait(seconds):
                return
            self.connection.sendall(data[index : index + 1])

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class TlsHttpServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on a loopback address that speaks only TLS."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        application: Application,
        ssl_context: ssl.SSLContext,
        *,
        verbose: bool = False,
    ) -> None:
        self.application = application
        self.ssl_context = ssl_context
        self.verbose = verbose
        self.stopping = threading.Event()
        self.connections_accepted = 0
        self._lock = threading.Lock()
        self._connections: set[ssl.SSLSocket] = set()
        self._workers: set[threading.Thread] = set()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (getfqdn), which can be slow.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "localhost"
        self.server_port = self.server_address[1]

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        connection, address = self.socket.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def finish_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:  # type: ignore[override]
        worker = threading.current_thread()
        connection = self.ssl_context.wrap_socket(
            request, server_side=True, do_handshake_on_connect=False
        )
        with self._lock:
            self.connections_accepted += 1
            self._connections.add(connection)
            self._workers.add(worker)
        try:
            if self.stopping.is_set():
                return
            connection.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            connection.do_handshake()
            _Handler(connection, client_address, self)
        except (OSError, ValueError) as error:
            # Client went away, failed the handshake (e.g. does not trust our CA), or the
            # server is stopping and shut the socket down: nothing to answer.
            if self.verbose:
                logger.info("connection from %s ended: %s", client_address, error)
        finally:
            with self._lock:
                self._connections.discard(connection)
                self._workers.discard(worker)
            with contextlib.suppress(OSError):
                connection.close()

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        # finish_request closed the TLS socket; ``request`` was detached by wrap_socket.
        with contextlib.suppress(OSError):
            request.close()

    def handle_error(self, request: object, client_address: object) -> None:
        logger.exception("unexpected error serving %s", client_address)

    def close_connections(self) -> None:
        """Shut down every open connection so that threads blocked on it wake up."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                # The plain-socket shutdown: SSLSocket.shutdown would also drop its SSL object
                # under the feet of the thread reading from it.
                socket.socket.shutdown(connection, socket.SHUT_RDWR)

    def join_workers(self, deadline: float) -> bool:
        """Wait until the connection threads ended or ``deadline`` (monotonic); True if all did."""
        while True:
            with self._lock:
                workers: Iterable[threading.Thread] = list(self._workers)
            alive = [worker for worker in workers if worker.is_alive()]
            if not alive:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            alive[0].join(min(remaining, 0.05))
            self.close_connections()
