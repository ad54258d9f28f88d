"""The HTTP session over real TLS on loopback: deadlines against drips and hangs, trust, reuse."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import requests
import trustme
from loopback_tls import drip_body, drip_headers, hang, respond, serving

from monitor.config.model import NetworkConfig
from monitor.http import DeadlineExceeded, build_session
from monitor.model.outcomes import Outcome
from monitor.probes.classify import classify_exception, explain_exception


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_path(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def network(ca_path: Path) -> NetworkConfig:
    return NetworkConfig(
        ca_bundle=ca_path,
        connect_timeout_seconds=2.0,
        read_timeout_seconds=2.0,
        probe_deadline_seconds=1.5,
    )


def _timed_get(network: NetworkConfig, url: str, deadline_in: float) -> tuple[float, BaseException]:
    session = build_session(network)
    start = time.monotonic()
    with pytest.raises(requests.exceptions.RequestException) as caught:
        session.bounded(start + deadline_in).get(url)
    return time.monotonic() - start, caught.value


def test_plain_request_over_tls(network: NetworkConfig, ca: trustme.CA) -> None:
    """A normal answer is read completely and returned, body and status intact."""
    with serving(ca, respond(b'{"UserId": "x"}')) as server:
        response = build_session(network).get(server.url + "/api/data/v9.2/WhoAmI")
    assert response.status_code == 200
    assert response.json() == {"UserId": "x"}


@pytest.mark.parametrize("behaviour", [drip_body(0.2), drip_headers(0.2), hang(30)])
def test_deadline_bounds_drips_and_hangs(
    network: NetworkConfig, ca: trustme.CA, behaviour: object
) -> None:
    """One byte every 0.2 s never trips the 2 s read timeout; the 1 s deadline still holds."""
    with serving(ca, behaviour) as server:  # type: ignore[arg-type]
        elapsed, exc = _timed_get(network, server.url + "/slow", 1.0)
    assert isinstance(exc, DeadlineExceeded)
    assert isinstance(exc, requests.exceptions.Timeout)
    assert 0.9 <= elapsed < 1.6
    assert classify_exception(exc) is Outcome.UNREACHABLE


def test_requests_alone_would_hang_on_a_drip(network: NetworkConfig, ca: trustme.CA) -> None:
    """Control: plain requests with the same timeouts is not bounded by them (why a deadline)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(network.ca_bundle)
    with serving(ca, drip_body(0.1, length=20)) as server:
        start = time.monotonic()
        session.get(server.url + "/slow", timeout=(1, 1))
        elapsed = time.monotonic() - start
    assert elapsed > 1.5  # longer than either timeout, and it "succeeded"


def test_untrusted_server_certificate_is_a_tls_error(
    network: NetworkConfig, tmp_path: Path
) -> None:
    """A server certificate from a CA the session does not trust fails; never accepted."""
    stranger = trustme.CA()
    with serving(stranger, respond()) as server:
        _, exc = _timed_get(network, server.url, 5.0)
    assert isinstance(exc, requests.exceptions.SSLError)
    failure = explain_exception(exc)
    assert failure.outcome is Outcome.TLS_ERROR
    assert "certificate" in failure.message


def test_environment_ca_bundle_has_no_effect(
    network: NetworkConfig, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """REQUESTS_CA_BUNDLE pointing at another CA neither adds nor removes trust."""
    stranger = trustme.CA()
    stranger_path = tmp_path / "stranger.pem"
    stranger.cert_pem.write_to_path(str(stranger_path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stranger_path))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(stranger_path))
    monkeypatch.setenv("SSL_CERT_FILE", str(stranger_path))
    with serving(ca, respond()) as server:  # trusted through network.ca_bundle only
        assert build_session(network).get(server.url).status_code == 200
    with serving(stranger, respond()) as server:  # trusted only by the environment
        _, exc = _timed_get(network, server.url, 5.0)
    assert isinstance(exc, requests.exceptions.SSLError)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_is_unreachable_and_quick(network: NetworkConfig) -> None:
    """Nothing listening: unreachable at once, no retry."""
    elapsed, exc = _timed_get(network, f"https://localhost:{_free_port()}/", 5.0)
    assert classify_exception(exc) is Outcome.UNREACHABLE
    assert elapsed < 1.0


def test_no_redirect_is_followed(network: NetworkConfig, ca: trustme.CA) -> None:
    """A 3xx is returned as it is: a form body with a secret is never re-sent elsewhere."""

    def redirect(conn: object) -> None:
        conn.sendall(  # type: ignore[attr-defined]
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: https://elsewhere.example/\r\n"
            b"Content-Length: 0\r\n\r\n"
        )

    with serving(ca, redirect) as server:
        response = build_session(network).post(server.url + "/token", data={"client_secret": "x"})
    assert response.status_code == 307


def test_connections_are_reused_between_requests(network: NetworkConfig, ca: trustme.CA) -> None:
    """Through one session many requests share one TLS connection (no handshake each time)."""
    with serving(ca, respond()) as server:
        session = build_session(network)
        for _ in range(5):
            assert session.get(server.url + "/x").status_code == 200
        connections = server.connections
    assert connections == 1


def test_a_deadline_hit_does_not_poison_the_pool(network: NetworkConfig, ca: trustme.CA) -> None:
    """After a request is cut at its deadline, the next request on the session works."""
    answers = iter([drip_body(0.2), respond()])

    def behaviour(conn: object) -> None:
        next(answers)(conn)  # type: ignore[arg-type]

    with serving(ca, behaviour) as server:
        session = build_session(network)
        with pytest.raises(DeadlineExceeded):
            session.bounded(time.monotonic() + 0.5).get(server.url + "/slow")
        assert session.get(server.url + "/fast").status_code == 200
