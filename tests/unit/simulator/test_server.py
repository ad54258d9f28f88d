"""The server itself: TLS trust, keep-alive, one-write responses, lifecycle and counters."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
import requests

from monitor.simulator import Scenario, Simulator

from .helpers import (
    GOOD_SECRET,
    OTHER_SECRET,
    PROD,
    PUBLIC_APP,
    SECRET_APP,
    TENANT_ID,
    USER,
    confidential_app,
    default_scope,
    public_app,
    sign_in_with_password,
    who_am_i,
)


def test_client_without_the_ca_fails_tls(sim: Simulator) -> None:
    """A client trusting only the system store rejects the simulator's certificate."""
    with requests.Session() as untrusting:
        untrusting.trust_env = False
        with pytest.raises(requests.exceptions.SSLError):
            untrusting.get(f"{sim.authority(TENANT_ID)}/v2.0/.well-known/openid-configuration")


def test_certificate_is_valid_for_localhost_and_127_0_0_1(sim: Simulator) -> None:
    """Python's strict default verification accepts the server for both names."""
    context = ssl.create_default_context(cafile=str(sim.ca_path))
    for host in ("localhost", "127.0.0.1"):
        with (
            socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_a_failed_handshake_does_not_disturb_the_server(
    sim: Simulator, session: requests.Session
) -> None:
    """After an untrusting client and a silent one, the server still answers."""
    silent = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
    with requests.Session() as untrusting:
        untrusting.trust_env = False
        with pytest.raises(requests.exceptions.SSLError):
            untrusting.get(sim.authority_host)
    response = session.get(f"{sim.authority(TENANT_ID)}/v2.0/.well-known/openid-configuration")
    assert response.status_code == 200
    silent.close()
    assert sim.internal_errors == []


def test_keep_alive_serves_many_requests_on_one_connection(
    sim: Simulator, session: requests.Session
) -> None:
    """Responses carry Content-Length, so a session reuses one connection."""
    url = f"{sim.authority(TENANT_ID)}/v2.0/.well-known/openid-configuration"
    for _ in range(5):
        response = session.get(url)
        assert response.headers["Content-Length"] == str(len(response.content))
    assert sim.connections_accepted == 1


def test_connection_close_is_honoured(sim: Simulator, session: requests.Session) -> None:
    """A client asking for Connection: close gets it."""
    url = f"{sim.authority(TENANT_ID)}/v2.0/.well-known/openid-configuration"
    response = session.get(url, headers={"Connection": "close"})
    assert response.headers["Connection"] == "close"
    session.get(url)
    assert sim.connections_accepted == 2


def test_requests_do_not_wait_for_delayed_acks(sim: Simulator, session: requests.Session) -> None:
    """TCP_NODELAY plus one write per response: no ~40 ms Nagle/delayed-ACK stall."""
    token = confidential_app(sim, session, SECRET_APP, GOOD_SECRET).acquire_token_for_client(
        [default_scope(sim)]
    )["access_token"]
    who_am_i(sim, session, token)
    started = time.perf_counter()
    for _ in range(20):
        assert who_am_i(sim, session, token).status_code == 200
    average = (time.perf_counter() - started) / 20
    assert average < 0.025


def test_simulator_binds_loopback_only(scenario: Scenario) -> None:
    """Any other address is refused before binding."""
    with pytest.raises(ValueError, match="loopback only"):
        Simulator(scenario, host="0.0.0.0")  # noqa: S104 - the address being refused


def test_addresses_are_unknown_before_start(scenario: Scenario) -> None:
    """Before start there is no port, so the URLs cannot be known."""
    simulator = Simulator(scenario)
    with pytest.raises(RuntimeError, match="not been started"):
        _ = simulator.authority_host
    simulator.stop()  # stopping a simulator that never started is harmless


def test_stop_frees_the_port_and_is_idempotent(scenario: Scenario, state_dir: Path) -> None:
    """After stop nothing listens on the port; stopping twice is fine; no threads remain."""
    before = set(threading.enumerate())
    simulator = Simulator(scenario, state_dir=state_dir).start()
    port = simulator.port
    with requests.Session() as http:
        http.trust_env = False
        http.verify = str(simulator.ca_path)
        http.get(f"{simulator.authority(TENANT_ID)}/v2.0/.well-known/openid-configuration")
        simulator.stop()
    simulator.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert [t for t in set(threading.enumerate()) - before if t.is_alive()] == []


def test_start_twice_is_refused(sim: Simulator) -> None:
    """A running simulator cannot be started again."""
    with pytest.raises(RuntimeError, match="already running"):
        sim.start()


def test_fixed_port_and_temporary_state(scenario: Scenario) -> None:
    """A chosen port is used; without state_dir a temporary CA is made and removed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with Simulator(scenario, port=free) as simulator:
        assert simulator.authority_host == f"https://localhost:{free}"
        ca_path = simulator.ca_path
        assert ca_path.exists()
    assert not ca_path.exists()


def test_request_counts_filter_by_family_client_user_and_environment(
    sim: Simulator, session: requests.Session
) -> None:
    """Counts include failed requests and can be narrowed by each attribute."""
    confidential_app(sim, session, SECRET_APP, GOOD_SECRET).acquire_token_for_client(
        [default_scope(sim)]
    )
    confidential_app(sim, session, SECRET_APP, OTHER_SECRET).acquire_token_for_client(
        [default_scope(sim)]
    )
    sign_in_with_password(public_app(sim, session), default_scope(sim), password="bad")
    assert sim.request_count("discovery") == 3
    assert sim.request_count("token") == 3
    assert sim.request_count("token", client_id=SECRET_APP.upper()) == 2
    assert sim.request_count("token", client_id=PUBLIC_APP, username=USER) == 1
    assert sim.request_count(environment=PROD) == 3
    assert sim.request_count() == 7
    assert sim.failed_password_attempts(USER) == 1
    sim.reset_counters()
    assert sim.request_count() == 0
    assert sim.failed_password_attempts(USER) == 0


def test_control_endpoint_reports_counters_without_counting_itself(
    sim: Simulator, session: requests.Session
) -> None:
    """GET /_simulator/requests lists the counters as JSON."""
    session.get(f"{sim.authority_host}/common/userrealm/{USER}?api-version=1.0")
    report = session.get(f"{sim.authority_host}/_simulator/requests").json()
    assert report["requests"] == [
        {
            "family": "userrealm",
            "client_id": None,
            "username": USER,
            "environment": None,
            "count": 1,
        }
    ]
    assert report["failed_password_attempts"] == {}
    assert sim.request_count() == 1


def test_graph_needs_a_token_and_unknown_paths_answer_404(
    sim: Simulator, session: requests.Session
) -> None:
    """Graph answers 401 without a token (tests/unit/simulator/test_graph.py covers the rest);
    unknown paths are 404."""
    assert sim.graph_url == f"{sim.authority_host}/graph"
    graph = session.get(sim.graph_url + "/v1.0/applications")
    assert graph.status_code == 401
    assert graph.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert session.get(f"{sim.authority_host}/nothing/here").status_code == 404


def test_bad_content_length_is_a_400(sim: Simulator) -> None:
    """A malformed request is refused without crashing the handler."""
    context = ssl.create_default_context(cafile=str(sim.ca_path))
    with (
        socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: nope\r\n\r\n")
        assert tls.recv(100).startswith(b"HTTP/1.1 400 ")
