"""The metrics endpoint of ``monitor run`` end to end: the real daemon in a subprocess against
the simulator (with an observer reading Graph), scraped over HTTP; promtool checks the scrape;
breaking a secret and expiring a certificate in the simulator shows in the scraped values."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from prometheus_client.parser import text_string_to_metric_families
from support.daemon import FAST_SCHEDULE, DaemonProcess, append_config
from support.deployment import (
    APP_SECRET,
    CERT_APP,
    SECRET_APP,
    USER_PASSWORD,
    Deployment,
    make_certificate,
    write_deployment,
)
from support.posture import ALL_PERMISSIONS

from monitor.simulator import Simulator, scenario_from_dict

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "contrib" / "grafana" / "dashboard.json"
OBSERVER = "4dbc1c95-6f4e-4c9e-9a8c-4c9dcd6a5e04"
OBSERVER_SECRET = "E2E-observer-secret-Qm7~pL2x"
TIMEOUT = 40.0
PROMTOOL = shutil.which("promtool")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    deployment: Deployment
    daemon: DaemonProcess
    sim: Simulator
    certificate: x509.Certificate
    port: int

    def get(self, path: str, accept: str | None = None, method: str = "GET") -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        if accept is not None:
            request.add_header("Accept", accept)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no env proxy
        try:
            with opener.open(request, timeout=10) as answer:
                return int(answer.status), answer.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Return every sample of /metrics by (name, sorted labels)."""
        status, text = self.get("/metrics")
        assert 200 == status, text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float | None:
        wanted = tuple(sorted(labels.items()))
        for (sample, found), value in self.scrape().items():
            if sample == name and all(item in found for item in wanted):
                return value
        return None

    def wait_for(
        self, name: str, condition: Callable[[float], bool], timeout: float = TIMEOUT, **labels: str
    ) -> float:
        """Wait until the sample *name* {labels} satisfies *condition* (a callable); return it."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.value(name, **labels)
            except urllib.error.URLError:  # not listening yet
                value = None
            if value is not None and condition(value):
                return value
            time.sleep(0.3)
        raise AssertionError(f"{name}{labels} is {value} after {timeout} s:\n{self.daemon.text()}")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One daemon for the module: three identities, an observer reading Graph every few
    seconds, metrics on a free loopback port."""
    pem, certificate = make_certificate()
    sim = Simulator(_scenario_with_observer(), state_dir=tmp_path_factory.mktemp("sim"))
    sim.start()
    try:
        sim.add_certificate(CERT_APP, certificate)
        deployment = write_deployment(tmp_path_factory.mktemp("deployment"), sim, pem)
        deployment.write_secret("observer-secret", OBSERVER_SECRET.encode())
        deployment.write_secret("ops-url", b"json://127.0.0.1:9/")  # nothing listens: fails
        port = free_port()
        append_config(deployment, FAST_SCHEDULE)
        append_config(
            deployment,
            f"""directory_interval_seconds = 1

[directory]
interval_hours = 0.0005

[metrics]
listen = "127.0.0.1:{port}"

[[channels]]
name = "ops"
urls = [{{ credential = "ops-url" }}]

[tenants.e2e.observer]
client_id = "{OBSERVER}"
secret = {{ credential = "observer-secret" }}
""",
        )
        daemon = DaemonProcess(deployment)
        try:
            yield Running(deployment, daemon, sim, certificate, port)
            daemon.signal(signal.SIGTERM)
            daemon.wait()
        finally:
            daemon.kill()
    finally:
        sim.stop()


def _scenario_with_observer():  # type: ignore[no-untyped-def]
    """The end-to-end scenario plus an observer app with every Graph permission."""
    from support.deployment import ENVIRONMENTS, PUBLIC_APP, TENANT_ID, USER_UPN

    role = ["Integration"]
    members = [
        {"app": SECRET_APP, "roles": role},
        {"app": CERT_APP, "roles": role},
        {"user": USER_UPN, "roles": role, "access_mode": 4},
    ]
    return scenario_from_dict(
        {
            "name": "e2e-metrics",
            "tenants": [
                {
                    "name": "e2e",
                    "id": TENANT_ID,
                    "domain": "e2e.example",
                    "password_validity_days": 90,
                }
            ],
            "apps": [
                {
                    "client_id": SECRET_APP,
                    "tenant": "e2e",
                    "secrets": [{"value": APP_SECRET, "end": "+30d"}],
                },
                {"client_id": CERT_APP, "tenant": "e2e"},
                {"client_id": PUBLIC_APP, "tenant": "e2e", "allow_public_client": True},
                {
                    "client_id": OBSERVER,
                    "tenant": "e2e",
                    "name": "Monitor observer",
                    "graph_permissions": ALL_PERMISSIONS,
                    "secrets": [{"value": OBSERVER_SECRET, "end": "+400d"}],
                },
            ],
            "users": [{"upn": USER_UPN, "password": USER_PASSWORD}],
            "environments": [
                {"name": name, "tenant": "e2e", "members": members} for name in ENVIRONMENTS
            ],
        }
    )


def _ok(value: float) -> bool:
    return value == 1


def test_healthz_says_ok_and_nothing_else_is_served(running: Running) -> None:
    """/healthz is 200 "ok" once the daemon runs; other paths are 404; POST is 405."""
    running.wait_for("monitor_probe_success", _ok, identity="app-secret")

    assert (200, "ok\n") == running.get("/healthz")
    assert 404 == running.get("/")[0]
    assert 404 == running.get("/metrics/extra")[0]
    assert 405 == running.get("/metrics", method="POST")[0]


def test_the_scrape_carries_the_probe_and_directory_values(running: Running) -> None:
    """Every identity's probe succeeds; the observer's read gives the secret's and the
    certificate's end dates from Graph (the secret ends in 30 days) and the secret's
    successor state."""
    for identity in ("app-secret", "app-cert", "user-password"):
        running.wait_for("monitor_probe_success", _ok, identity=identity, environment="e2e-prod")
    expiry = running.wait_for(
        "monitor_credential_expiry_timestamp_seconds",
        lambda v: v > 0,
        identity="app-secret",
        source="graph",
    )
    in_30_days = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).timestamp()

    assert abs(in_30_days - expiry) < 3600
    assert 0 == running.value("monitor_credential_successor_registered", identity="app-secret")
    assert running.value("monitor_probe_duration_seconds_count", identity="app-secret") >= 1  # type: ignore[operator]
    assert 1 == running.value("monitor_build_info")


def test_openmetrics_is_negotiated(running: Running) -> None:
    """A scraper that asks for OpenMetrics gets it (with its # EOF), others get the text
    format."""
    status, text = running.get("/metrics", accept="application/openmetrics-text; version=1.0.0")

    assert 200 == status
    assert text.endswith("# EOF\n")
    assert "# EOF" not in running.get("/metrics")[1]


def test_no_secret_appears_in_a_scrape(running: Running) -> None:
    """No secret value, password or certificate key of the deployment is in either format."""
    running.wait_for("monitor_probe_success", _ok, identity="app-secret")
    texts = [
        running.get("/metrics")[1],
        running.get("/metrics", accept="application/openmetrics-text; version=1.0.0")[1],
        running.get("/healthz")[1],
    ]
    secrets = [APP_SECRET, USER_PASSWORD, OBSERVER_SECRET, "PRIVATE KEY"]

    assert [] == [secret for secret in secrets for text in texts if secret in text]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian: prometheus) absent")
def test_promtool_check_metrics_passes_on_a_real_scrape(running: Running) -> None:
    """`promtool check metrics` finds no problem in the exposition of a running daemon."""
    running.wait_for("monitor_probe_success", _ok, identity="app-cert")
    text = running.get("/metrics")[1]

    done = subprocess.run(
        [PROMTOOL or "promtool", "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (0, "") == (done.returncode, done.stdout + done.stderr)


def test_every_dashboard_query_names_an_exported_metric(running: Running) -> None:
    """The Grafana dashboard is JSON with a schema version, and each panel's query names a
    metric present in a real scrape."""
    running.wait_for(
        "monitor_credential_expiry_timestamp_seconds", lambda v: v > 0, identity="app-cert"
    )
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    names = {name for name, _labels in running.scrape()}
    names |= {name.removesuffix("_bucket") for name in names}
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]

    used = {word for expr in exprs for word in re.findall(r"\b(monitor_[a-z_]+)\b", expr)}

    assert isinstance(dashboard["schemaVersion"], int)
    assert exprs
    assert [] == sorted(used - names)


def test_a_broken_secret_and_an_expired_certificate_show_in_the_next_scrapes(
    running: Running,
) -> None:
    """Revoking the secret and replacing the certificate's registration with an expired one
    turn both probes to 0 (credential_invalid / credential_expired), and the certificate's
    end date from Graph reads in the past."""
    for identity in ("app-secret", "app-cert"):
        running.wait_for("monitor_probe_success", _ok, identity=identity, environment="e2e-prod")
    thumbprint = running.certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - Graph's thumbprint
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)

    running.sim.revoke_secret(SECRET_APP, APP_SECRET)
    running.sim.revoke_certificate(CERT_APP, thumbprint)
    running.sim.add_certificate(CERT_APP, running.certificate, end=yesterday)

    running.wait_for(
        "monitor_probe_success", lambda v: v == 0, identity="app-secret", environment="e2e-prod"
    )
    running.wait_for(
        "monitor_probe_success", lambda v: v == 0, identity="app-cert", environment="e2e-prod"
    )
    expiry = running.wait_for(
        "monitor_credential_expiry_timestamp_seconds",
        lambda v: v < time.time(),
        identity="app-cert",
        source="graph",
    )
    assert abs(yesterday.timestamp() - expiry) < 60
    assert 1 == running.value(
        "monitor_probe_outcome",
        identity="app-cert",
        environment="e2e-prod",
        outcome="credential_expired",
    )
    assert 1 == running.value(
        "monitor_probe_outcome",
        identity="app-secret",
        environment="e2e-prod",
        outcome="credential_invalid",
    )


def test_a_stalled_scheduler_turns_healthz_to_503(running: Running) -> None:
    """SIGUSR2 pauses the scheduler as a deadlock would (the daemon's documented test hook):
    /healthz answers 503 with the reason in one line, and the scrape says the scheduler is
    not healthy. (Last in this module: the daemon stays stalled.)"""
    assert 200 == running.get("/healthz")[0]

    running.daemon.signal(signal.SIGUSR2)
    running.wait_for("monitor_scheduler_healthy", lambda v: v == 0)
    status, text = running.get("/healthz")

    assert 503 == status
    assert text.startswith("scheduler stalled: no heartbeat for ")
    assert 1 == text.count("\n")
