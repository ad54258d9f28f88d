"""The HTTP endpoint: ``GET /metrics`` and ``GET /healthz``, nothing else.

A WSGI application served by the standard library's ``wsgiref`` from daemon threads (one per
request, so a slow client never holds up another). ``/metrics`` writes the monitor's collector and
the process collector in the format prometheus_client negotiates from ``Accept`` (the text
format, or OpenMetrics) through :class:`~monitor.metrics.exposition.Exposition`, which writes
what the library's encoders would, reusing unchanged lines. The answer is not compressed: on the
loopback address compression would cost more CPU than it saves.
``/healthz`` answers ``200 ok`` while the daemon is healthy and ``503`` with a one-line reason
otherwise (:meth:`monitor.metrics.collector.Vitals.problem`). Any other path is 404, any method
but GET and HEAD 405. Nothing is written and no secret is read.

After each answer the C library is asked to return free heap pages to the system (glibc's
``malloc_trim``): a scrape replaces many pairs' samples while the probe threads allocate, and
without it the freed pages stay in the process (with 1,000 identities scraped every 5 s the
daemon's peak RSS was 133 MB without it, 120 MB with it; a call costs about 0.03 ms).
"""

from __future__ import annotations

import ctypes
import platform
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, ProcessCollector

from monitor.logsetup import get_logger
from monitor.metrics.collector import MonitorCollector, Vitals
from monitor.metrics.exposition import Exposition, family_of, negotiated

log = get_logger("monitor.metrics")

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def _heap_trimmer() -> Callable[[], object] | None:
    """Return glibc's ``malloc_trim(0)`` as a callable, or None on another C library."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


_TRIM_HEAP = _heap_trimmer()


class _QuietHandler(WSGIRequestHandler):
    """No access log on standard error (the daemon's log is JSON lines); free heap pages go
    back to the system once the answer is sent (see the module docstring)."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def handle(self) -> None:
        try:
            super().handle()
        finally:
            if _TRIM_HEAP is not None:
                _TRIM_HEAP()


def build_registry(collector: MonitorCollector) -> CollectorRegistry:
    """Return a registry of *collector* and the process' own CPU and memory."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return registry


def make_app(
    collector: MonitorCollector, vitals: Callable[[], Vitals]
) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    """Return the WSGI application of the endpoint."""
    process = ProcessCollector(registry=None)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    registry.register(process)
    writer = Exposition()
    lock = threading.Lock()  # one scrape at a time: each reads the database once

    def metrics(environ: Environ, start_response: StartResponse) -> list[bytes]:
        fmt, encoder, content_type = negotiated(environ.get("HTTP_ACCEPT", ""))
        with lock:
            if fmt is None:
                body = encoder(registry)
            else:
                families = collector.families()
                families += [family_of(metric) for metric in process.collect()]
                body = writer.render(families, fmt)
        start_response(
            "200 OK",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path not in ("/metrics", "/healthz"):
            return _plain(start_response, "404 Not Found", "not found: try /metrics or /healthz")
        if method not in ("GET", "HEAD"):
            return _plain(
                start_response, "405 Method Not Allowed", "read-only", [("Allow", "GET, HEAD")]
            )
        if path == "/healthz":
            problem = vitals().problem()
            if problem is None:
                return _plain(start_response, "200 OK", "ok")
            return _plain(start_response, "503 Service Unavailable", problem)
        return metrics(environ, start_response)

    return app


def _plain(
    start_response: StartResponse,
    status: str,
    text: str,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *(headers or []),
        ],
    )
    return [body]


class MetricsServer:
    """The endpoint's listening socket and its serving thread."""

    def __init__(
        self,
        host: str,
        port: int,
        app: Callable[[Environ, StartResponse], Iterable[bytes]],
    ) -> None:
        server_class = _Server6 if ":" in host else _Server
        self._server = make_server(
            host, port, app, server_class=server_class, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="metrics-http",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
