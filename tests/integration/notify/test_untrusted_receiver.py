"""A notification receiver whose certificate is not trusted: the attempt says so, with what
makes it trusted, instead of "connection failed" (real apprise, real TLS on loopback)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from support.notify.receivers import HttpsReceiver, free_port

from monitor.config.model import ChannelConfig
from monitor.notify.channels import (
    TLS_CERTIFICATE_PROBLEMS,
    TLS_NOT_TRUSTED_HTTPS,
    TLS_NOT_TRUSTED_SMTP,
    AppriseSender,
)
from monitor.notify.notice import make_test_notice
from monitor.notify.render import render
from monitor.secrets import Secret

SIGNATURE = "untrusted-receiver-signature-Q1w2E3r4"


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpsReceiver]:
    """A Teams workflow endpoint whose CA nothing trusts (REQUESTS_CA_BUNDLE unset)."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    server = HttpsReceiver(tmp_path / "receiver").start()
    try:
        yield server
    finally:
        server.stop()


def _send(url: str) -> tuple[bool, str | None]:
    channel = ChannelConfig(name="ops", urls=(Secret(url, "test"),))
    message = render([make_test_notice("ops", datetime(2026, 12, 6, tzinfo=UTC))])
    (attempt,) = AppriseSender().send(channel, message, [0], timeout=15)
    return attempt.ok, attempt.error


def test_an_untrusted_https_receiver_is_named_with_the_setting_that_fixes_it(
    receiver: HttpsReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not trusted: the error names REQUESTS_CA_BUNDLE and nothing arrives; with
    REQUESTS_CA_BUNDLE set to the receiver's CA, as the error says, the same send succeeds."""
    url = receiver.workflows_url(SIGNATURE)

    refused = _send(url)
    arrived_before = len(receiver.requests)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(receiver.ca_file))
    trusted = _send(url)

    assert (False, TLS_NOT_TRUSTED_HTTPS) == refused
    assert 0 == arrived_before
    assert (True, None) == trusted
    assert 1 == len(receiver.requests)


@pytest.fixture
def starttls_server(tmp_path: Path) -> Iterator[int]:
    """An SMTP server on loopback offering STARTTLS with a certificate nothing trusts."""
    from aiosmtpd.controller import Controller

    class Accept:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    trustme.CA().issue_cert("127.0.0.1", "localhost").configure_cert(context)
    port = free_port()
    controller = Controller(
        Accept(), hostname="127.0.0.1", port=port, tls_context=context, ready_timeout=5
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_an_untrusted_smtp_server_points_to_the_system_store(starttls_server: int) -> None:
    """SMTP with STARTTLS to a server whose CA is not in the system store: the error says the
    system store is what counts (REQUESTS_CA_BUNDLE does not apply to SMTP)."""
    url = (
        f"mailtos://127.0.0.1:{starttls_server}/?to=ops@example.com&from=monitor@example.com"
        "&mode=starttls"
    )

    assert (False, TLS_NOT_TRUSTED_SMTP) == _send(url)


def test_an_unreachable_receiver_is_still_a_connection_failure() -> None:
    """Nothing listening: "connection failed", not a trust problem."""
    url = f"workflows://127.0.0.1:{free_port()}/workflow/{SIGNATURE}/"

    assert (False, "connection failed") == _send(url)


def test_a_certificate_for_another_name_is_not_called_untrusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver whose certificate comes from a trusted CA but names another host: the error
    says so, and does not send the operator to REQUESTS_CA_BUNDLE."""
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("teams-relay.example").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"workflows://127.0.0.1:{server.server_address[1]}/workflow/{SIGNATURE}/"
        result = _send(url)
    finally:
        server.shutdown()
        server.server_close()

    assert (False, TLS_CERTIFICATE_PROBLEMS["hostname"]) == result
