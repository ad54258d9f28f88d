"""Real alert receivers on loopback for tests: an SMTP server and an HTTPS webhook endpoint.

* :class:`SmtpReceiver` (aiosmtpd) records every message it accepts, parsed;
* :class:`HttpsReceiver` serves HTTPS with a certificate from a throwaway ``trustme`` CA and
  records every request (path, query, JSON body). What it answers is scripted per request
  (``statuses``: 500 a few times, then 202), and it can hold a request open until released (to
  kill a sender mid-send).

apprise verifies the receiver's certificate through ``requests``, which trusts
``REQUESTS_CA_BUNDLE``: :meth:`HttpsReceiver.env` gives the variable to set in a test's (or a
subprocess's) environment only. Nothing here ever turns verification off.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

WORKFLOW_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ReceivedMail:
    """One message the SMTP receiver accepted."""

    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def part(self, content_type: str) -> str:
        """Return the body part of *content_type* (``text/plain`` or ``text/html``)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return str(part.get_content())
        return ""


class _SmtpHandler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.receiver.lock:
            self.receiver.messages.append(
                ReceivedMail(
                    sender=envelope.mail_from,
                    recipients=list(envelope.rcpt_tos),
                    message=parsed,
                    raw=raw,
                )
            )
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """An aiosmtpd server on 127.0.0.1 (plain SMTP: loopback only) that keeps what arrives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()
        self._controller: Any = None

    def start(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            _SmtpHandler(self), hostname="127.0.0.1", port=self.port, ready_timeout=5
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(self, *, to: str = "ops@example.com", sender: str = "monitor@example.com") -> str:
        """Return the apprise URL that delivers here (plain SMTP, allowed to loopback)."""
        return f"mailto://127.0.0.1:{self.port}/{to}?from={sender}&mode=insecure"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        with self.lock:
            return list(self.messages)


@dataclass
class ReceivedRequest:
    """One request the HTTPS receiver got."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Script:
    statuses: list[int] = field(default_factory=list)  # consumed one per request
    default: int = 202
    hold: threading.Event | None = None  # when set, requests wait until it is set


class HttpsReceiver:
    """A loopback HTTPS server (trustme CA) answering scripted statuses and recording requests."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca = trustme.CA()
        self.port = free_port()
        self.requests: list[ReceivedRequest] = []
        self.lock = threading.Lock()
        self.script = _Script()
        self.arrived = threading.Event()
        folder.mkdir(parents=True, exist_ok=True)
        self.ca_file = folder / "receiver-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting ----------------------------------------------------------------------

    def answer(self, statuses: Sequence[int] = (), *, default: int = 202) -> None:
        """Answer *statuses* to the next requests, one each, then *default*."""
        with self.lock:
            self.script.statuses = list(statuses)
            self.script.default = default

    def hold_requests(self) -> threading.Event:
        """Make requests wait (after being recorded) until the returned event is set."""
        event = threading.Event()
        with self.lock:
            self.script.hold = event
        return event

    def release(self) -> None:
        """Let held requests answer, and stop holding new ones."""
        with self.lock:
            hold, self.script.hold = self.script.hold, None
        if hold is not None:
            hold.set()

    # --- running ------------------------------------------------------------------------

    def start(self) -> HttpsReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urllib.parse.urlsplit(self.path)
                with receiver.lock:
                    status = (
                        receiver.script.statuses.pop(0)
                        if receiver.script.statuses
                        else receiver.script.default
                    )
                    hold = receiver.script.hold
                    receiver.requests.append(
                        ReceivedRequest(
                            method=self.command,
                            path=parts.path,
                            query=dict(urllib.parse.parse_qsl(parts.query)),
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                            status=status,
                        )
                    )
                receiver.arrived.set()
                if hold is not None:
                    hold.wait(30)
                payload = b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _handle
            do_GET = _handle

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.script.hold is not None:
            self.script.hold.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def env(self) -> dict[str, str]:
        """The environment a sender needs to trust this receiver (set it in the test only)."""
        return {"REQUESTS_CA_BUNDLE": str(self.ca_file)}

    # --- URLs and what arrived --------------------------------------------------------------

    def workflows_url(self, signature: str, *, workflow: str = WORKFLOW_ID) -> str:
        """Return the apprise ``workflows://`` URL of a Teams workflow served here."""
        return f"workflows://127.0.0.1:{self.port}/{workflow}/{signature}/"

    def heartbeat_url(self, token: str) -> str:
        return f"https://127.0.0.1:{self.port}/ping/{token}"

    def received(self, *, path_part: str = "") -> list[ReceivedRequest]:
        with self.lock:
            return [r for r in self.requests if path_part in r.path]

    def accepted_cards(self) -> list[dict[str, Any]]:
        """Return the Adaptive Cards of every request answered with success."""
        with self.lock:
            done = [r for r in self.requests if r.status in (200, 202)]
        return [r.json()["attachments"][0]["content"] for r in done]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        with self.lock:
            return list(self.requests)


_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def card_text(card: dict[str, Any]) -> str:
    """Return every text of an Adaptive Card (text blocks, facts, actions) joined by newlines,
    as a reader sees it: Markdown backslash escapes (``\\[``) resolved in texts and facts."""
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "value", "url"):
                if isinstance(node.get(key), str):
                    shown = node[key]
                    if node.get("type") != "Action.OpenUrl" and key != "url":
                        shown = _MARKDOWN_ESCAPE.sub(r"\1", shown)
                    texts.append(shown)
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(texts)


class TarpitServer:
    """A hostile server on 127.0.0.1: accepts every connection, then sends its greeting one byte
    every ``interval`` seconds and never finishes (an SMTP tarpit). Each byte resets a client's
    per-read socket timeout, so only a deadline on the whole call ends it.

    One thread serves every connection (so a test can count the threads of the code under test).
    """

    GREETING = b"220 tarpit.example ESMTP " + b"." * 4000 + b"\r\n"

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.port = free_port()
        self.accepted = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None

    def start(self) -> TarpitServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, name="tarpit", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._listener is not None
        clients: list[tuple[socket.socket, int]] = []
        next_drip = time.monotonic()
        while not self._stop.is_set():
            try:
                while True:
                    client, _ = self._listener.accept()
                    client.setblocking(False)
                    clients.append((client, 0))
                    self.accepted += 1
            except BlockingIOError:
                pass
            if time.monotonic() >= next_drip:
                next_drip = time.monotonic() + self.interval
                kept = []
                for client, sent in clients:
                    try:
                        client.send(self.GREETING[sent % len(self.GREETING) :][:1])
                        kept.append((client, sent + 1))
                    except OSError:
                        client.close()
                clients = kept
            self._stop.wait(0.05)
        for client, _ in clients:
            client.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._listener is not None:
            self._listener.close()

    def url(self, *, to: str = "ops@example.com") -> str:
        """Return an apprise e-mail URL that delivers to the tarpit (plain SMTP, loopback)."""
        return f"mailto://127.0.0.1:{self.port}/{to}?from=monitor@example.com&mode=insecure"
