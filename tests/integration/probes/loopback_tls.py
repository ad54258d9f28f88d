"""A tiny loopback HTTPS server whose timing tests control byte by byte (drips, hangs)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import trustme

Behaviour = Callable[[ssl.SSLSocket], None]


def _read_request(conn: ssl.SSLSocket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def respond(body: bytes = b'{"ok": true}', status: str = "200 OK") -> Behaviour:
    def behaviour(conn: ssl.SSLSocket) -> None:
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        conn.sendall(head + body)

    return behaviour


def drip_body(interval: float = 0.2, length: int = 200) -> Behaviour:
    """Send headers at once, then the body one byte per *interval* (never idle long enough for
    a read timeout to fire)."""

    def behaviour(conn: ssl.SSLSocket) -> None:
        conn.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
        )
        for _ in range(length):
            conn.sendall(b" ")
            time.sleep(interval)

    return behaviour


def drip_headers(interval: float = 0.2) -> Behaviour:
    """Send the status line and then endless header bytes, one per *interval*."""

    def behaviour(conn: ssl.SSLSocket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(10_000):
            conn.sendall(b"a")
            time.sleep(interval)

    return behaviour


def hang(seconds: float = 60.0) -> Behaviour:
    def behaviour(conn: ssl.SSLSocket) -> None:
        time.sleep(seconds)

    return behaviour


class LoopbackServer:
    """Serve each connection in its own thread, on 127.0.0.1 with TLS; *behaviour* answers each
    request (after it has been read) on a kept-alive connection."""

    def __init__(self, ca: trustme.CA, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.requests = 0
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(self._context)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            with self._context.wrap_socket(raw, server_side=True) as conn:
                conn.settimeout(5.0)
                while not self._stop.is_set():
                    if not _read_request(conn):
                        break  # the client closed the connection
                    self.requests += 1
                    self.behaviour(conn)
        except (OSError, ssl.SSLError):
            pass

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=2)


@contextmanager
def serving(ca: trustme.CA, behaviour: Behaviour) -> Iterator[LoopbackServer]:
    server = LoopbackServer(ca, behaviour).start()
    try:
        yield server
    finally:
        server.stop()
