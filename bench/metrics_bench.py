"""What a scrape of `monitor run`'s /metrics costs with 1,000 identities in 10 tenants.

Builds a real SQLite database as the daemon leaves it (one probe state per identity, with
headroom, Graph credential facts, a systemuser and roles per identity, open incidents), serves
the endpoint on a loopback port exactly as the daemon does, and prints:

1. scrape latency over HTTP (median and 95th percentile of --scrapes scrapes; the first scrape,
   which derives the directory values, separately);
2. CPU per scrape (the collector and the exposition, measured in this process), and what that
   is as a share of one core at a 15-second scrape interval.

Between two scrapes it records what a daemon records in 15 seconds with 1,000 identities on the
default 15-minute interval (17 probe results, in the database and in memory), so the figures are
those of a steady state, not of an unchanging database. Scrapes ask for OpenMetrics, as
Prometheus does.

Usage: python bench/metrics_bench.py [--identities 1000] [--scrapes 50]
Targets: a scrape answers in under 50 ms; under 0.1 % of a core at a 15-second interval.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import generate_latest

from monitor.config.model import (
    Config,
    DatabaseConfig,
    EnvironmentConfig,
    IdentityConfig,
    NetworkConfig,
    ProbingConfig,
    TenantConfig,
)
from monitor.metrics import (
    LiveMetrics,
    MetricsDatabase,
    MetricsServer,
    MonitorCollector,
    Vitals,
    build_registry,
    make_app,
)
from monitor.metrics.exposition import Exposition
from monitor.model.findings import FindingKind, Level
from monitor.model.incidents import IncidentRecord
from monitor.model.observations import (
    AppCredentials,
    Observation,
    RegisteredCredential,
    RoleGrant,
    SecurityRoles,
    SystemUser,
)
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RateLimit, RunRecord
from monitor.secrets import Secret
from monitor.store import Store

TENANTS = 10
INTERVAL_SECONDS = 15.0


def build_config(root: Path, identities: int) -> Config:
    tenants = {
        f"t{t}": TenantConfig(
            f"t{t}", str(uuid.UUID(int=t + 1, version=4)), "custom", "https://a", "https://g"
        )
        for t in range(TENANTS)
    }
    environments = {
        f"env{t}": EnvironmentConfig(f"env{t}", f"t{t}", f"https://env{t}.example")
        for t in range(TENANTS)
    }
    configured = {
        f"id{i}": IdentityConfig(
            f"id{i}",
            "application",
            f"t{i % TENANTS}",
            str(uuid.UUID(int=1000 + i, version=4)),
            (f"env{i % TENANTS}",),
            secret=Secret(f"bench-secret-{i}", "inline"),
        )
        for i in range(identities)
    }
    return Config(
        source=root / "monitor.toml",
        network=NetworkConfig(),
        probing=ProbingConfig(),
        database=DatabaseConfig(root / "monitor.db"),
        tenants=tenants,
        environments=environments,
        identities=configured,
    )


def fill(store: Store, config: Config, now: datetime) -> list[ProbeResult]:
    results = [
        ProbeResult(
            identity=identity.name,
            environment=identity.environments[0],
            tenant=identity.tenant,
            credential_type="client_secret",
            started_at=now - timedelta(minutes=5),
            duration_ms=250,
            outcome=Outcome.OK if n % 50 else Outcome.CREDENTIAL_INVALID,
            stage="dataverse",
            rate_limit=RateLimit(5990, 1_199_000),
        )
        for n, identity in enumerate(config.identities.values())
    ]
    run = RunRecord(str(uuid.uuid4()), "check", now - timedelta(minutes=6), now)
    store.probes.record_results(run, results)
    for tenant in config.tenants:
        facts: list[Observation] = []
        for identity in config.identities.values():
            if identity.tenant != tenant:
                continue
            ends = now + timedelta(days=10 + len(facts) % 300)
            facts.append(
                Observation.of(
                    AppCredentials(
                        identity.client_id,
                        identity.name,
                        "client_secret",
                        "hint",
                        (RegisteredCredential("k1", "client_secret", "current", None, ends, True),),
                    ),
                    tenant=tenant,
                    identity=identity.name,
                    source="graph",
                    observed_at=now,
                )
            )
            environment = identity.environments[0]
            facts.append(
                Observation.of(
                    SystemUser(True, "s", application_id=identity.client_id, is_disabled=False),
                    tenant=tenant,
                    identity=identity.name,
                    environment=environment,
                    source="dataverse",
                    observed_at=now,
                )
            )
            facts.append(
                Observation.of(
                    SecurityRoles((RoleGrant("Integration", "r1"),)),
                    tenant=tenant,
                    identity=identity.name,
                    environment=environment,
                    source="dataverse",
                    observed_at=now,
                )
            )
        store.posture.record(f"bench-{tenant}", facts, tenants=[tenant], at=now)
    _incidents(store, config, now)
    return results


def _incidents(store: Store, config: Config, now: datetime) -> None:
    with store.alerting.unit() as unit:
        for n, identity in enumerate(list(config.identities.values())[:20]):
            unit.save_incident(
                IncidentRecord(
                    id=None,
                    key=f"credential_broken:{identity.tenant}/{identity.name}/-:{n}",
                    kind=FindingKind.CREDENTIAL_BROKEN.value,
                    level=Level.CRITICAL.value,
                    tenant=identity.tenant,
                    identity=identity.name,
                    environment=None,
                    subject="client secret",
                    summary="bench",
                    remedy="bench",
                    source="probe",
                    details={},
                    deadline=None,
                    opened_at=now,
                    observed_at=now,
                )
            )


# What Prometheus (2.42) asks for: OpenMetrics first.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
# Results between two scrapes 15 s apart: 1,000 identities probed every 15 minutes.
RESULTS_PER_SCRAPE = 17


class Daemonish:
    """Between scrapes, what the daemon does: new probe results in the database and in
    memory."""

    def __init__(self, store: Store, live: LiveMetrics, results: list[ProbeResult]) -> None:
        self.store = store
        self.live = live
        self.results = results
        self.step = 0

    def advance(self) -> None:
        self.step += 1
        begin = self.step * RESULTS_PER_SCRAPE % len(self.results)
        batch = [
            replace(
                result,
                started_at=result.started_at + timedelta(seconds=15 * self.step),
                duration_ms=200 + self.step % 500,
            )
            for result in self.results[begin : begin + RESULTS_PER_SCRAPE]
        ]
        run = RunRecord(str(uuid.uuid4()), "scheduled", batch[0].started_at, batch[0].started_at)
        self.store.probes.record_results(run, batch)
        self.live.record_pass(batch)
        self.live.record_job("probe", time.time(), 0.2, failed=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as directory:
        root = Path(directory)
        config = build_config(root, args.identities)
        with Store.open(config.database.path) as store:
            results = fill(store, config, now)
            live = LiveMetrics()
            live.record_pass(results)  # every identity probed once: a histogram per pair
            daemon = Daemonish(store, live, results)
            vitals = Vitals(True, 0.1, True, True, now - timedelta(hours=1), now, 900.0)
            collector = MonitorCollector(
                MetricsDatabase(config.database.path), lambda: config, live, lambda: vitals
            )
            server = MetricsServer("127.0.0.1", 0, make_app(collector, lambda: vitals))
            server.start()
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.port}/metrics",
                headers={"Accept": PROMETHEUS_ACCEPT},
            )
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

            def scrape() -> tuple[float, int]:
                begun = time.perf_counter()
                with opener.open(request, timeout=10) as answer:
                    size = len(answer.read())
                return time.perf_counter() - begun, size

            try:
                first, size = scrape()
                latencies = []
                for _ in range(args.scrapes):
                    daemon.advance()
                    latencies.append(scrape()[0])
            finally:
                server.close()
            writer = Exposition()
            writer.render(collector.families(), "openmetrics")
            cpu = 0.0
            for _ in range(args.scrapes):
                daemon.advance()
                begun = time.process_time()
                writer.render(collector.families(), "openmetrics")
                cpu += time.process_time() - begun
            cpu /= args.scrapes
            registry = build_registry(collector)
            begun = time.process_time()
            generate_latest(registry)
            library = time.process_time() - begun
    latencies.sort()
    median = statistics.median(latencies)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    share = cpu / INTERVAL_SECONDS * 100
    print(f"identities: {args.identities} in {TENANTS} tenants; OpenMetrics, {size:,} bytes")
    print(
        f"first scrape (reads every state, derives the directory values, writes every line): "
        f"{first * 1000:.1f} ms"
    )
    print(
        f"scrape latency over HTTP, {RESULTS_PER_SCRAPE} new probe results between scrapes: "
        f"median {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (target < 50 ms)"
    )
    print(
        f"CPU per scrape: {cpu * 1000:.1f} ms = {share:.3f} % of a core at a "
        f"{INTERVAL_SECONDS:.0f} s interval (target < 0.1 %)"
    )
    print(
        f"(the same scrape through prometheus_client's own text encoder: {library * 1000:.1f} ms "
        "CPU)"
    )


if __name__ == "__main__":
    main()
