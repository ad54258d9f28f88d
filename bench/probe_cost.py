"""What one probe costs the monitor, against a bare-msal baseline; what a concurrent pass costs.

Run from the repository root::

    .venv/bin/python bench/probe_cost.py                  # the default run (about 3 minutes)
    .venv/bin/python bench/probe_cost.py --json           # the same figures as JSON
    .venv/bin/python bench/probe_cost.py --probes 100 --identities 200 --concurrency 8 \
        --concurrency 32 --latency-ms 50 --pass-kind client_secret --pass-kind certificate
    .venv/bin/python bench/probe_cost.py --identities 200 --pass-kind certificate \
        --distinct-certificates                           # one RSA key per certificate identity

Everything runs against the simulator shipped in ``monitor.simulator``, started in a **separate
process** (loopback HTTPS with its own CA), so the CPU time measured here is the client's alone.

1. **Per probe**, sequentially, interleaved round-robin so every path sees the same conditions:

   * ``baseline``: a bare-msal loop doing nothing but a fresh ``ConfidentialClientApplication``
     (client secret, ``instance_discovery=False``, a ``requests.Session`` with ``trust_env=False``
     and ``verify=<simulator CA>``), ``acquire_token_for_client`` and one ``WhoAmI`` GET. A fresh
     application has no HTTP cache, so it fetches OIDC discovery on every probe (3 requests);
   * informational rows: the same with one ``http_cache`` dict shared by every application
     (discovery fetched once: 2 requests, the strictest baseline), and a naive certificate probe
     (a fresh application given the PEM key, which parses and signs it every time);
   * ``monitor``: ``PROBE_KINDS[kind](identity, config, context).run([environment])`` for every
     kind with a loaded :class:`~monitor.config.model.Config` and one
     ``ProbeContext.from_config`` (as one engine pass uses it), and the certificate kind once more
     with an empty certificate cache before every probe (the first probe of a certificate identity
     in a pass, e.g. every probe of a one-shot ``monitor check``).

   Client CPU (``time.process_time`` deltas, all threads of this process) and wall time per probe
   after warm-up: mean, p50 and p95. Target: the monitor's mean CPU per probe <= 1.2x the
   baseline's, for every kind.

2. **Concurrent pass** over N client-secret identities (default 200 and 1,000; certificate and
   password identities at the smallest N only, to keep the default run short) with a ``slow``
   fault on every endpoint family (default 100 ms per response):
   ``monitor.pipeline.probing.ProbePass`` with a throwaway SQLite database (it records the
   results, as ``monitor check`` does), against the baseline probe run by a
   ``ThreadPoolExecutor`` of the same size (and, for information at the smallest N, the
   baseline with a shared ``http_cache``). One tenant, so
   ``per_tenant_concurrency`` is set to the concurrency. Certificate identities share one
   certificate file unless ``--distinct-certificates`` gives each its own key (slow to generate,
   and much slower for the monitor: every PEM line is registered for secret scrubbing). Each
   pass runs in a fresh worker process, so its CPU time and peak RSS (``ru_maxrss``) are its own.
   The ideal is ``N x latency x requests per probe / concurrency``. Target: the monitor's pass
   wall time <= 1.2x the baseline's.

Nothing here asserts: it prints figures and whether each target is met. ``--profile DIR`` writes
cProfile statistics of the monitor's paths (and prints the top entries to standard error).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import datetime as dt
import functools
import io
import json
import multiprocessing
import multiprocessing.connection
import os
import platform
import pstats
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msal
import requests
import requests.adapters
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import monitor
from monitor.config import load_config
from monitor.config.model import Config, IdentityConfig
from monitor.logsetup import configure_logging
from monitor.model.lockout import LockoutGuard
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RunRecord, StateChangeRecord
from monitor.pipeline.probing import ProbePass, _Job
from monitor.probes.assertion import CertificateAssertions
from monitor.probes.context import ProbeContext, SessionPool
from monitor.probes.registry import PROBE_KINDS
from monitor.store import Store
from monitor.store.database import Database
from monitor.store.guards import GuardRepository
from monitor.store.probes import ProbeRepository

Kind = Literal["client_secret", "certificate", "password"]
KINDS: tuple[Kind, ...] = ("client_secret", "certificate", "password")
CPU_TARGET = 1.2  # monitor CPU per probe / baseline CPU per probe, for every kind
PASS_TARGET = 1.2  # monitor concurrent pass wall time / baseline pass wall time

TENANT = "bench"
TENANT_ID = "6d1f0c2a-4b3e-4f5a-8c7d-9e0f1a2b3c4d"
TENANT_DOMAIN = "bench.example"
ENVIRONMENT = "bench-prod"
PUBLIC_APP = "0f4d2c1b-8a7e-4d6c-9b5a-3e2f1d0c9b8a"
_ID_NAMESPACE = uuid.UUID("a3c1e9d2-5f7b-4c8e-9a1d-2b3c4d5e6f70")
# Every member gets far more Dataverse requests than a run makes: no throttling in the figures.
REQUEST_LIMIT = 10_000_000


def log(message: str) -> None:
    """Progress goes to standard error; standard output carries only the figures."""
    print(message, file=sys.stderr, flush=True)


# --- the deployment: scenario, certificate, configurations ---------------------------------------


def client_id(role: str, index: int = 0) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{role}/{index}"))


def secret_value(role: str, index: int = 0) -> str:
    return f"bench-{role}-{index}-Q8~" + uuid.uuid5(_ID_NAMESPACE, f"secret/{role}/{index}").hex


def username(index: int) -> str:
    return f"svc-bench-{index}@{TENANT_DOMAIN}"


def password_value(index: int) -> str:
    return "bench-pw-" + uuid.uuid5(_ID_NAMESPACE, f"password/{index}").hex


@dataclass(frozen=True)
class CertificateFiles:
    key_and_certificate: Path  # PEM: PKCS#8 key + certificate (what the monitor reads)
    certificate: Path  # PEM certificate only (what the simulator registers)
    private_key_pem: str
    certificate_pem: str


def make_certificate(directory: Path, index: int = 0) -> CertificateFiles:
    """Write an RSA-2048 key and its self-signed certificate; return where and what they are."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"bench-certificate-app-{index}")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    both = directory / f"certificate-app-{index}.pem"
    fd = os.open(both, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key_pem + certificate_pem)
    public = directory / f"certificate-app-{index}.crt"
    public.write_text(certificate_pem)
    return CertificateFiles(both, public, key_pem, certificate_pem)


@dataclass(frozen=True)
class Certificates:
    """The certificate of each certificate app: one shared by all, or one each (distinct)."""

    files: tuple[CertificateFiles, ...]

    @classmethod
    def create(cls, directory: Path, count: int) -> Certificates:
        return cls(tuple(make_certificate(directory, index) for index in range(max(count, 1))))

    def __getitem__(self, index: int) -> CertificateFiles:
        return self.files[index % len(self.files)]


@dataclass(frozen=True)
class Sizes:
    """How many identities of each kind the scenario (and the largest pass) needs."""

    secret_apps: int
    certificate_apps: int
    users: int


def scenario_toml(sizes: Sizes, certificates: Certificates) -> str:
    """Return a scenario: one tenant, one environment, every identity a member of it.

    Roles: ``baseline`` (the bare-msal client secret app), ``secret``/``certificate`` (the
    monitor's apps; index 0 is also the per-probe identity), ``naive`` (the naive msal
    certificate reference), users ``0..`` through one public client app.
    """
    lines = [
        'name = "probe-cost benchmark"',
        "",
        "[[tenants]]",
        f'name = "{TENANT}"',
        f'id = "{TENANT_ID}"',
        f'domain = "{TENANT_DOMAIN}"',
    ]
    members: list[str] = []

    def secret_app(role: str, index: int) -> None:
        lines.extend(
            [
                "",
                "[[apps]]",
                f'client_id = "{client_id(role, index)}"',
                f'tenant = "{TENANT}"',
                f'secrets = [{{ value = "{secret_value(role, index)}", end = "+30d" }}]',
            ]
        )
        members.append(client_id(role, index))

    def certificate_app(role: str, index: int) -> None:
        lines.extend(
            [
                "",
                "[[apps]]",
                f'client_id = "{client_id(role, index)}"',
                f'tenant = "{TENANT}"',
                f'certificates = [{{ path = "{certificates[index].certificate}" }}]',
            ]
        )
        members.append(client_id(role, index))

    secret_app("baseline", 0)
    certificate_app("naive", 0)
    for index in range(max(sizes.secret_apps, 1)):
        secret_app("secret", index)
    for index in range(max(sizes.certificate_apps, 1)):
        certificate_app("certificate", index)
    lines.extend(
        [
            "",
            "[[apps]]",
            f'client_id = "{PUBLIC_APP}"',
            f'tenant = "{TENANT}"',
            "allow_public_client = true",
        ]
    )
    for index in range(max(sizes.users, 1)):
        lines.extend(
            [
                "",
                "[[users]]",
                f'upn = "{username(index)}"',
                f'password = "{password_value(index)}"',
            ]
        )
    lines.extend(
        [
            "",
            "[[environments]]",
            f'name = "{ENVIRONMENT}"',
            f'tenant = "{TENANT}"',
            f"request_limit = {REQUEST_LIMIT}",
        ]
    )
    # Dataverse refuses a member without a security role; the users are non-interactive.
    for app in members:
        lines.extend(["", "[[environments.members]]", f'app = "{app}"', 'roles = ["Integration"]'])
    for index in range(max(sizes.users, 1)):
        lines.extend(
            [
                "",
                "[[environments.members]]",
                f'user = "{username(index)}"',
                'roles = ["Integration"]',
                "access_mode = 4",
            ]
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Endpoints:
    """Where the simulator (in its own process) answers, and the CA to trust."""

    authority_host: str
    environment_url: str
    ca_path: str

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{TENANT_ID}"


def identity_block(kind: Kind, index: int, certificates: Certificates) -> str:
    name = f"{kind.replace('_', '-')}-{index}"
    common = f'tenant = "{TENANT}"\nenvironments = ["{ENVIRONMENT}"]\n'
    if kind == "client_secret":
        return (
            f'\n[identities.{name}]\nkind = "application"\n{common}'
            f'client_id = "{client_id("secret", index)}"\n'
            f'secret = "{secret_value("secret", index)}"\n'
        )
    if kind == "certificate":
        return (
            f'\n[identities.{name}]\nkind = "application"\n{common}'
            f'client_id = "{client_id("certificate", index)}"\n'
            f'certificate = {{ file = "{certificates[index].key_and_certificate}" }}\n'
        )
    return (
        f'\n[identities.{name}]\nkind = "user"\n{common}'
        f'client_id = "{PUBLIC_APP}"\nusername = "{username(index)}"\n'
        f'password = "{password_value(index)}"\n'
    )


def write_config(
    path: Path,
    endpoints: Endpoints,
    identities: Sequence[tuple[Kind, int]],
    certificates: Certificates,
    concurrency: int,
) -> Path:
    """Write a monitor configuration (mode 0600: its secrets are inline) and return its path.

    One tenant, so ``per_tenant_concurrency`` equals ``concurrency``: the pass runs at the
    concurrency it is given (the default per-tenant limit, 4, would otherwise cap it).
    """
    text = f"""
[network]
ca_bundle = "{endpoints.ca_path}"
connect_timeout_seconds = 5
read_timeout_seconds = 20
probe_deadline_seconds = 60

[probing]
concurrency = {concurrency}
per_tenant_concurrency = {concurrency}

[database]
path = "{path.with_suffix(".db")}"

[tenants.{TENANT}]
tenant_id = "{TENANT_ID}"
cloud = "custom"
authority_host = "{endpoints.authority_host}"
graph_url = "{endpoints.authority_host}/graph"

[environments.{ENVIRONMENT}]
tenant = "{TENANT}"
url = "{endpoints.environment_url}"
""" + "".join(identity_block(kind, index, certificates) for kind, index in identities)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    return path


# --- the simulator, in its own process ---------------------------------------------------------


def _serve_simulator(
    scenario_path: str, state_dir: str, connection: multiprocessing.connection.Connection
) -> None:
    """Child process: serve the scenario and obey commands from the parent until ``stop``."""
    from monitor.simulator import Simulator, load_scenario

    simulator = Simulator(load_scenario(Path(scenario_path)), state_dir=Path(state_dir))
    simulator.start()
    try:
        connection.send(
            {
                "authority_host": simulator.authority_host,
                "environment_url": simulator.environment_url(ENVIRONMENT),
                "ca_path": str(simulator.ca_path),
            }
        )
        while True:
            try:
                command, argument = connection.recv()
            except EOFError:  # the parent went away
                return
            if command == "stop":
                connection.send(None)
                return
            if command == "latency":
                simulator.clear_faults()
                if argument > 0:
                    simulator.set_fault("*", "slow", seconds=argument)
                connection.send(None)
            elif command == "reset":
                simulator.reset_counters()
                connection.send(None)
            elif command == "requests":
                connection.send(simulator.request_count())
            elif command == "cpu":
                connection.send(time.process_time())
            elif command == "errors":
                connection.send(len(simulator.internal_errors))
            else:
                connection.send(f"unknown command {command!r}")
    finally:
        simulator.stop()


class SimulatorProcess:
    """The simulator in a child process, driven over a pipe."""

    def __init__(self, scenario_path: Path, state_dir: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve_simulator,
            args=(str(scenario_path), str(state_dir), child),
            name="bench-simulator",
            daemon=True,
        )
        self._process.start()
        child.close()
        if not self._connection.poll(60):
            self._process.kill()
            raise RuntimeError("the simulator did not start within 60 s")
        try:
            info = self._connection.recv()
        except EOFError:
            self._process.join(5)
            raise RuntimeError(
                f"the simulator process exited (code {self._process.exitcode}) before serving"
            ) from None
        self.endpoints = Endpoints(
            authority_host=info["authority_host"],
            environment_url=info["environment_url"],
            ca_path=info["ca_path"],
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _ask(self, command: str, argument: float = 0.0) -> Any:
        self._connection.send((command, argument))
        return self._connection.recv()

    def set_latency(self, seconds: float) -> None:
        """Delay every answer by *seconds* (a ``slow`` fault on every family); 0 removes it."""
        self._ask("latency", seconds)

    def reset_counters(self) -> None:
        self._ask("reset")

    def request_count(self) -> int:
        return int(self._ask("requests"))

    def cpu_seconds(self) -> float:
        return float(self._ask("cpu"))

    def internal_errors(self) -> int:
        return int(self._ask("errors"))

    def stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(EOFError, OSError):
                self._ask("stop")
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
        self._connection.close()


# --- the probe paths ------------------------------------------------------------------------------


def bare_session(endpoints: Endpoints, pool_size: int = 10) -> requests.Session:
    """The baseline's HTTP client: explicit trust, no environment, keep-alive pool."""
    session = requests.Session()
    session.trust_env = False
    session.verify = endpoints.ca_path
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    return session


def bare_whoami(session: requests.Session, endpoints: Endpoints, access_token: str) -> bool:
    response = session.get(
        f"{endpoints.environment_url}/api/data/v9.2/WhoAmI",
        headers={
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        },
        timeout=(5, 20),
    )
    return response.status_code == 200 and "UserId" in response.json()


def bare_msal_probe(
    session: requests.Session,
    endpoints: Endpoints,
    app_client_id: str,
    credential: str | dict[str, str],
    http_cache: dict[str, Any] | None = None,
) -> bool:
    """The baseline: a fresh confidential client application, a token, one WhoAmI."""
    app = msal.ConfidentialClientApplication(
        app_client_id,
        client_credential=credential,
        authority=endpoints.authority,
        http_client=session,
        http_cache=http_cache,
        token_cache=msal.TokenCache(),
        instance_discovery=False,
        azure_region=False,
        timeout=(5, 20),
    )
    result = app.acquire_token_for_client(scopes=[f"{endpoints.environment_url}/.default"])
    token = result.get("access_token")
    if result.get("token_source") != "identity_provider" or not isinstance(token, str):
        return False
    return bare_whoami(session, endpoints, token)


def monitor_probe(
    config: Config, identity: IdentityConfig, context: ProbeContext | Callable[[], ProbeContext]
) -> bool:
    """The monitor's path: the registered probe kind, run for the identity's environments."""
    used = context() if callable(context) else context
    results = PROBE_KINDS[identity.credential_type](identity, config, used).run(
        list(identity.environments)
    )
    return bool(results) and all(result.outcome is Outcome.OK for result in results)


Role = Literal["baseline", "monitor", "info"]


@dataclass(frozen=True)
class ProbePath:
    name: str
    label: str
    role: Role
    kind: Kind | None  # the monitor's kind (None for the baseline and references)
    probe: Callable[[], bool]
    every: int = 1  # run in every n-th round only (the ~60 ms certificate references)


@dataclass(frozen=True)
class Distribution:
    mean: float
    p50: float
    p95: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Distribution:
        if len(samples) < 2:
            value = samples[0] if samples else 0.0
            return cls(value, value, value)
        cuts = statistics.quantiles(samples, n=100, method="inclusive")
        return cls(statistics.fmean(samples), cuts[49], cuts[94])


@dataclass(frozen=True)
class PathFigures:
    name: str
    label: str
    role: Role
    kind: Kind | None
    probes: int
    failures: int
    cpu_ms: Distribution
    wall_ms: Distribution
    requests_per_probe: float
    cpu_ratio: float | None = None  # vs the baseline, mean CPU
    cpu_ratio_strict: float | None = None  # vs the shared-http_cache baseline
    cpu_ratio_p50: float | None = None  # p50 vs the baseline's p50 (robust to outliers)
    target_met: bool | None = None


def measure_paths(
    paths: Sequence[ProbePath],
    *,
    probes: int,
    warmup: int,
    simulator: SimulatorProcess,
    profile_dir: Path | None,
) -> list[PathFigures]:
    """Run every path ``warmup + probes`` times, interleaved; return per-path figures."""
    cpu: dict[str, list[float]] = {path.name: [] for path in paths}
    wall: dict[str, list[float]] = {path.name: [] for path in paths}
    failures = dict.fromkeys(cpu, 0)
    for round_number in range(warmup):
        for path in paths:
            if round_number % path.every:
                continue
            if not path.probe():
                failures[path.name] += 1
    for round_number in range(probes):
        for path in paths:
            if round_number % path.every:
                continue
            cpu_start = time.process_time()
            wall_start = time.perf_counter()
            ok = path.probe()
            wall_end = time.perf_counter()
            cpu_end = time.process_time()
            cpu[path.name].append((cpu_end - cpu_start) * 1000)
            wall[path.name].append((wall_end - wall_start) * 1000)
            if not ok:
                failures[path.name] += 1
    # Requests per probe, counted by the simulator (a separate short run per path).
    requests_per_probe: dict[str, float] = {}
    for path in paths:
        counted = max(2, 10 // path.every)
        simulator.reset_counters()
        for _ in range(counted):
            path.probe()
        requests_per_probe[path.name] = simulator.request_count() / counted
    if profile_dir is not None:
        for path in paths:
            if path.role == "baseline" or path.kind is not None:
                profile_callable(path.probe, min(probes, 200), profile_dir / f"probe-{path.name}")
    return [
        PathFigures(
            name=path.name,
            label=path.label,
            role=path.role,
            kind=path.kind,
            probes=len(cpu[path.name]),
            failures=failures[path.name],
            cpu_ms=Distribution.of(cpu[path.name]),
            wall_ms=Distribution.of(wall[path.name]),
            requests_per_probe=requests_per_probe[path.name],
        )
        for path in paths
    ]


def profile_callable(probe: Callable[[], bool], iterations: int, target: Path) -> None:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(iterations):
        probe()
    profiler.disable()
    profiler.dump_stats(str(target.with_suffix(".pstats")))
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer).sort_stats("cumulative")
    stats.print_stats(25)
    log(f"--- profile of {target.name} ({iterations} probes, CPU time) ---\n{buffer.getvalue()}")


# --- the concurrent passes (each in a fresh worker process) ---------------------------------------


@dataclass(frozen=True)
class PassSpec:
    path: Literal["baseline", "baseline-cached", "monitor"]
    kind: Kind
    identities: int
    concurrency: int
    latency_seconds: float
    config_path: str
    endpoints: Endpoints
    log_level: str
    profile_path: str | None = None


@dataclass(frozen=True)
class PassFigures:
    path: str
    kind: str
    identities: int
    concurrency: int
    latency_ms: float
    wall_seconds: float
    cpu_seconds: float
    probes_ok: int
    results: int
    rss_before_mib: float
    peak_rss_mib: float
    requests: int = 0
    store_seconds: float = 0.0  # monitor only: time in store.probes.record_results
    guard_seconds: float = 0.0  # monitor only: time in store.guards.all (before the submits)
    probing_seconds: float = 0.0  # monitor only: from run() until the last probe was collected
    config_load_seconds: float = 0.0  # monitor only: load_config, before the pass
    requests_per_probe: float = 0.0
    ideal_seconds: float = 0.0
    ratio: float | None = None  # monitor wall / baseline wall (the specified baseline)
    ratio_strict: float | None = None  # monitor wall / shared-http_cache baseline wall
    target_met: bool | None = None


class TimedProbeRepository(ProbeRepository):
    """The real probe repository, timing the recording of a pass's results."""

    record_seconds = 0.0

    def record_results(
        self, run: RunRecord, results: Sequence[ProbeResult]
    ) -> list[StateChangeRecord]:
        start = time.perf_counter()
        try:
            return super().record_results(run, results)
        finally:
            self.record_seconds += time.perf_counter() - start


class TimedGuardRepository(GuardRepository):
    """The real guard repository, timing the read of every guard before the submits."""

    guard_seconds = 0.0

    def all(self) -> list[LockoutGuard]:
        start = time.perf_counter()
        try:
            return super().all()
        finally:
            self.guard_seconds += time.perf_counter() - start


class TimedStore(Store):
    """The real store, with the two repositories a pass spends its store time in timed."""

    probes: TimedProbeRepository
    guards: TimedGuardRepository

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.probes = TimedProbeRepository(database)
        self.guards = TimedGuardRepository(database)


class TimedCheckPass(ProbePass):
    """The real engine pass, noting when the last probe was collected."""

    collected_at = 0.0

    def _collect(
        self, jobs: list[_Job], deadline: float, until: float | None
    ) -> tuple[list[ProbeResult], list[IdentityConfig]]:
        try:
            return super()._collect(jobs, deadline, until)
        finally:
            self.collected_at = time.perf_counter()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


@contextmanager
def maybe_profile(target: str | None) -> Iterator[None]:
    if target is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(target)


def run_pass(spec: PassSpec) -> PassFigures:
    """Worker process: run one concurrent pass and return its figures."""
    with open(os.devnull, "w") as sink:
        configure_logging(spec.log_level, stream=sink, json=True)
        if spec.path == "monitor":
            return _monitor_pass(spec)
        return _baseline_pass(spec)


def _baseline_pass(spec: PassSpec) -> PassFigures:
    endpoints = spec.endpoints
    session = bare_session(endpoints, pool_size=spec.concurrency)
    http_cache: dict[str, Any] | None = {} if spec.path == "baseline-cached" else None
    jobs = [
        (client_id("secret", index), secret_value("secret", index))
        for index in range(spec.identities)
    ]
    rss_before = peak_rss_mib()
    with ThreadPoolExecutor(max_workers=spec.concurrency, thread_name_prefix="bare") as pool:
        cpu_start = time.process_time()
        wall_start = time.perf_counter()
        with maybe_profile(spec.profile_path):
            outcomes = list(
                pool.map(
                    lambda job: bare_msal_probe(session, endpoints, job[0], job[1], http_cache),
                    jobs,
                )
            )
        wall = time.perf_counter() - wall_start
        cpu = time.process_time() - cpu_start
    session.close()
    return PassFigures(
        path=spec.path,
        kind="client_secret",
        identities=spec.identities,
        concurrency=spec.concurrency,
        latency_ms=spec.latency_seconds * 1000,
        wall_seconds=wall,
        cpu_seconds=cpu,
        probes_ok=sum(outcomes),
        results=len(outcomes),
        rss_before_mib=rss_before,
        peak_rss_mib=peak_rss_mib(),
    )


def _monitor_pass(spec: PassSpec) -> PassFigures:
    load_start = time.perf_counter()
    config = load_config(Path(spec.config_path), environ={})
    config_load = time.perf_counter() - load_start
    identities = list(config.identities.values())
    database = Path(spec.config_path).with_suffix(".db")
    store = TimedStore.open(database)
    assert isinstance(store, TimedStore)
    try:
        checker = TimedCheckPass(config, store, fingerprint_key=os.urandom(32))
        rss_before = peak_rss_mib()
        cpu_start = time.process_time()
        wall_start = time.perf_counter()
        with maybe_profile(spec.profile_path):
            report = checker.run(identities)
        wall = time.perf_counter() - wall_start
        cpu = time.process_time() - cpu_start
        if isinstance(checker.context.http_clients, SessionPool):
            checker.context.http_clients.close()
    finally:
        store.close()
    return PassFigures(
        path="monitor",
        kind=spec.kind,
        identities=spec.identities,
        concurrency=spec.concurrency,
        latency_ms=spec.latency_seconds * 1000,
        wall_seconds=wall,
        cpu_seconds=cpu,
        probes_ok=sum(1 for result in report.results if result.outcome is Outcome.OK),
        results=len(report.results),
        rss_before_mib=rss_before,
        peak_rss_mib=peak_rss_mib(),
        store_seconds=store.probes.record_seconds,
        guard_seconds=store.guards.guard_seconds,
        probing_seconds=checker.collected_at - wall_start,
        config_load_seconds=config_load,
    )


def run_pass_in_worker(spec: PassSpec) -> PassFigures:
    """Run *spec* in a fresh process, so that its CPU time and peak RSS are its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as ex:
        return ex.submit(run_pass, spec).result()


# --- output ---------------------------------------------------------------------------------------


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def verdict(met: bool | None) -> str:
    if met is None:
        return ""
    return "met" if met else "MISSED"


def render(
    environment: dict[str, Any],
    figures: Sequence[PathFigures],
    passes: Sequence[PassFigures],
) -> str:
    out: list[str] = []
    out.append(
        f"probe_cost: python {environment['python']}, msal {environment['msal']}, "
        f"{environment['cpus']} CPUs; simulator in a separate process (pid "
        f"{environment['simulator_pid']}), loopback TLS; monitor {environment['monitor']} "
        f"from {environment['monitor_path']}"
    )
    out.append(
        f"load average {environment['load_average_start']} at the start, "
        f"{environment['load_average_end']} at the end (other work on the machine adds noise)"
    )
    out.append(
        f"Per probe: {environment['probes']} probes per path after {environment['warmup']} "
        "warm-up, paths interleaved round-robin, one environment, no injected latency"
    )
    out.append("")
    header = (
        f"{'path':<58} {'n':>4} {'CPU ms':>7} {'p50':>6} {'p95':>6} | {'wall ms':>7} "
        f"{'p50':>6} {'p95':>6} | {'req':>4} | {'CPU x':>6} {'p50 x':>6} {'strict':>6} | target"
    )
    out.append(header)
    out.append("-" * len(header))
    for row in figures:
        ratio = f"{row.cpu_ratio:.2f}" if row.cpu_ratio is not None else "1.00"
        strict = f"{row.cpu_ratio_strict:.2f}" if row.cpu_ratio_strict is not None else ""
        median = f"{row.cpu_ratio_p50:.2f}" if row.cpu_ratio_p50 is not None else "1.00"
        target = verdict(row.target_met)
        if row.failures:
            target = f"{target} ({row.failures} FAILED PROBES)".strip()
        out.append(
            f"{row.label:<58} {row.probes:>4} {row.cpu_ms.mean:7.2f} {row.cpu_ms.p50:6.2f} "
            f"{row.cpu_ms.p95:6.2f} | "
            f"{row.wall_ms.mean:7.2f} {row.wall_ms.p50:6.2f} {row.wall_ms.p95:6.2f} | "
            f"{row.requests_per_probe:4.1f} | {ratio:>6} {median:>6} {strict:>6} | {target}"
        )
    out.append("")
    out.append(
        f"CPU x: mean client CPU per probe / the baseline's (target <= {CPU_TARGET}x for every "
        "monitor kind); p50 x: the same for the medians; strict: mean / the shared-http_cache "
        "baseline's (informational)."
    )
    out.append(
        "req: HTTP requests per probe counted by the simulator (the bare baseline fetches OIDC "
        "discovery every probe; the monitor caches discovery, a password probe adds user realm)."
    )
    if passes:
        out.append("")
        first = passes[0]
        out.append(
            f"Concurrent pass: {first.latency_ms:g} ms injected before every simulator answer "
            "(slow fault, all families); each pass in a fresh process; one tenant, "
            "per_tenant_concurrency = concurrency; "
            + (
                "every certificate identity has its own key and certificate"
                if environment["distinct_certificates"]
                else "certificate identities share one certificate file (--distinct-certificates "
                "gives each its own)"
            )
        )
        out.append("")
        header = (
            f"{'N':>5} {'conc':>4} {'path':<34} {'wall s':>7} {'ideal s':>7} {'x ideal':>7} "
            f"{'req/p':>5} {'CPU s':>6} {'CPU ms/p':>8} {'RSS MiB':>7} {'+RSS':>5} {'ok':>9} | "
            f"{'x base':>6} {'strict':>6} | target"
        )
        out.append(header)
        out.append("-" * len(header))
        for run in passes:
            label = {
                "baseline": "baseline: bare msal, thread pool",
                "baseline-cached": "baseline, shared http_cache (info)",
                "monitor": f"monitor ProbePass ({run.kind})",
            }[run.path]
            ratio = f"{run.ratio:.2f}" if run.ratio is not None else ""
            strict = f"{run.ratio_strict:.2f}" if run.ratio_strict is not None else ""
            probes = max(run.results, 1)
            out.append(
                f"{run.identities:>5} {run.concurrency:>4} {label:<34} {run.wall_seconds:7.2f} "
                f"{run.ideal_seconds:7.2f} {run.wall_seconds / max(run.ideal_seconds, 1e-9):7.2f} "
                f"{run.requests_per_probe:5.2f} {run.cpu_seconds:6.2f} "
                f"{run.cpu_seconds * 1000 / probes:8.2f} {run.peak_rss_mib:7.1f} "
                f"{run.peak_rss_mib - run.rss_before_mib:5.1f} "
                f"{f'{run.probes_ok}/{run.results}':>9} | {ratio:>6} {strict:>6} | "
                f"{verdict(run.target_met)}"
            )
            if run.path == "monitor":
                tail = run.wall_seconds - run.probing_seconds
                out.append(
                    f"{'':>11}probing {run.probing_seconds:.2f} s (store.guards.all before the "
                    f"submit loop {run.guard_seconds:.2f} s), then {tail:.2f} s to record and log "
                    f"(store.probes.record_results {run.store_seconds:.2f} s); "
                    f"load_config before the pass {run.config_load_seconds:.2f} s"
                )
        out.append("")
        out.append(
            "ideal: N x latency x requests per probe / concurrency. x base: monitor pass wall / "
            f"baseline pass wall (target <= {PASS_TARGET}x); strict: / the shared-http_cache "
            "baseline (informational). RSS: peak ru_maxrss of the worker; +RSS: growth during "
            "the pass."
        )
    out.append("")
    out.append("Targets")
    probe_verdicts = [
        f"{row.kind} {row.cpu_ratio:.2f}x {verdict(row.target_met)}"
        for row in figures
        if row.role == "monitor" and row.cpu_ratio is not None
    ]
    out.append(f"  CPU per probe <= {CPU_TARGET}x baseline: " + "; ".join(probe_verdicts))
    pass_verdicts = [
        f"{run.kind} N={run.identities} c={run.concurrency} {run.ratio:.2f}x "
        f"{verdict(run.target_met)}"
        for run in passes
        if run.path == "monitor" and run.ratio is not None
    ]
    if pass_verdicts:
        out.append(f"  concurrent pass <= {PASS_TARGET}x baseline: " + "; ".join(pass_verdicts))
    return "\n".join(out)


# --- main -----------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/probe_cost.py",
        description="Client CPU and wall time per probe (monitor vs bare msal) and of a "
        "concurrent pass, against the simulator in a separate process.",
    )
    parser.add_argument("--probes", type=int, default=200, help="measured probes per path")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up probes per path")
    parser.add_argument(
        "--identities",
        type=int,
        action="append",
        metavar="N",
        help="identities in a concurrent pass (repeatable; default 200 and 1000; 0 skips)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        metavar="C",
        help="probes in flight in a pass (repeatable; default 8, the configuration default)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=100.0, help="injected latency per simulator answer"
    )
    parser.add_argument(
        "--pass-kind",
        action="append",
        choices=KINDS,
        help="identity kinds of the monitor's concurrent passes (repeatable; default all three: "
        "client_secret at every N, the other kinds at the smallest N only)",
    )
    parser.add_argument(
        "--distinct-certificates",
        action="store_true",
        help="give every certificate identity its own RSA key and certificate (realistic, but "
        "generating them takes about 60 ms each); default: one certificate file shared by all",
    )
    parser.add_argument(
        "--cached-baseline",
        choices=("smallest", "every", "none"),
        default="smallest",
        help="where to run the informational shared-http_cache baseline pass: at the smallest N "
        "(default), at every N, or nowhere",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        help="the monitor's log level in the pass (rendered to /dev/null; default info, as the "
        "daemon logs one line per probe)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="write cProfile statistics into DIR"
    )
    args = parser.parse_args(argv)
    args.identities = [n for n in (args.identities or [200, 1000]) if n > 0]
    args.concurrency = args.concurrency or [8]
    if args.pass_kind is None:
        args.pass_kind = list(KINDS)
        args.others_at_smallest_only = True
    else:
        args.others_at_smallest_only = False
    if args.probes < 2 or args.warmup < 0 or any(c < 1 for c in args.concurrency):
        parser.error("--probes must be >= 2, --warmup >= 0 and --concurrency >= 1")
    return args


def per_probe_paths(
    root: Path,
    endpoints: Endpoints,
    certificates: Certificates,
) -> list[ProbePath]:
    certificate = certificates[0]
    config = load_config(
        write_config(
            root / "per-probe.toml",
            endpoints,
            [("client_secret", 0), ("certificate", 0), ("password", 0)],
            certificates,
            concurrency=8,
        ),
        environ={},
    )
    context = ProbeContext.from_config(config, fingerprint_key=os.urandom(32))
    by_kind = {identity.credential_type: identity for identity in config.identities.values()}
    session = bare_session(endpoints)
    shared_cache: dict[str, Any] = {}
    baseline_id, baseline_secret = client_id("baseline"), secret_value("baseline")
    naive_credential = {
        "private_key": certificate.private_key_pem,
        "public_certificate": certificate.certificate_pem,
    }

    def fresh_certificate_cache() -> ProbeContext:
        return dataclasses.replace(context, assertions=CertificateAssertions())

    paths = [
        ProbePath(
            "baseline",
            "baseline: bare msal, client secret (fresh app)",
            "baseline",
            None,
            lambda: bare_msal_probe(session, endpoints, baseline_id, baseline_secret),
        ),
        ProbePath(
            "baseline-cached",
            "  info: bare msal, client secret, shared http_cache",
            "info",
            None,
            lambda: bare_msal_probe(session, endpoints, baseline_id, baseline_secret, shared_cache),
        ),
        ProbePath(
            "naive-certificate",
            "  info: bare msal, certificate (naive: PEM key per app)",
            "info",
            None,
            lambda: bare_msal_probe(session, endpoints, client_id("naive"), naive_credential),
            every=10,
        ),
    ]
    for kind in KINDS:
        identity = by_kind[kind]
        paths.append(
            ProbePath(
                f"monitor-{kind}",
                f"monitor: {kind}",
                "monitor",
                kind,
                functools.partial(monitor_probe, config, identity, context),
            )
        )
    paths.append(
        ProbePath(
            "monitor-certificate-first",
            "  info: monitor certificate, first probe of the identity",
            "info",
            None,
            lambda: monitor_probe(config, by_kind["certificate"], fresh_certificate_cache),
            every=10,
        )
    )
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    started = time.perf_counter()
    args.load_average_start = load_average()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    with open(os.devnull, "w") as sink:
        configure_logging(args.log_level, stream=sink, json=True)
        with tempfile.TemporaryDirectory(prefix="probe-cost-") as temporary:
            root = Path(temporary)
            return _run(args, root, started)


def _run(args: argparse.Namespace, root: Path, started: float) -> int:
    largest = max(args.identities, default=0)
    others = min(args.identities, default=0) if args.others_at_smallest_only else largest
    sizes = Sizes(
        secret_apps=largest,  # the baseline passes sign in as these too
        certificate_apps=others if "certificate" in args.pass_kind else 1,
        users=others if "password" in args.pass_kind else 1,
    )
    if args.distinct_certificates and sizes.certificate_apps > 1:
        log(f"generating {sizes.certificate_apps} RSA keys and certificates ...")
    certificates = Certificates.create(
        root, sizes.certificate_apps if args.distinct_certificates else 1
    )
    scenario = root / "scenario.toml"
    scenario.write_text(scenario_toml(sizes, certificates))
    log(f"starting the simulator ({sizes}) ...")
    simulator = SimulatorProcess(scenario, root / "simulator-state")
    try:
        endpoints = simulator.endpoints
        log(f"simulator pid {simulator.pid} at {endpoints.authority_host}")

        log(f"per probe: {args.warmup} warm-up + {args.probes} probes per path ...")
        paths = per_probe_paths(root, endpoints, certificates)
        figures = measure_paths(
            paths,
            probes=args.probes,
            warmup=args.warmup,
            simulator=simulator,
            profile_dir=args.profile,
        )
        figures = judge_probes(figures)

        passes: list[PassFigures] = []
        latency = args.latency_ms / 1000
        if args.identities:
            simulator.set_latency(latency)
        for n in args.identities:
            for concurrency in args.concurrency:
                passes.extend(
                    run_passes(args, root, endpoints, simulator, certificates, n, concurrency)
                )
        simulator.set_latency(0)
        errors = simulator.internal_errors()
    finally:
        simulator.stop()

    environment = {
        "python": platform.python_version(),
        "msal": msal.__version__,
        "monitor": monitor.__version__,
        "monitor_path": str(Path(monitor.__file__).parent),
        "distinct_certificates": args.distinct_certificates,
        "cpus": os.cpu_count(),
        "simulator_pid": simulator.pid,
        "probes": args.probes,
        "warmup": args.warmup,
        "latency_ms": args.latency_ms,
        "simulator_internal_errors": errors,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
        "load_average_start": args.load_average_start,
        "load_average_end": load_average(),
    }
    if args.json:
        print(
            json.dumps(
                {
                    "environment": environment,
                    "targets": {"cpu_per_probe": CPU_TARGET, "concurrent_pass": PASS_TARGET},
                    "per_probe": [dataclasses.asdict(row) for row in figures],
                    "concurrent_pass": [dataclasses.asdict(row) for row in passes],
                },
                indent=2,
            )
        )
    else:
        print(render(environment, figures, passes))
        print(
            f"\nsimulator internal errors: {errors}; whole run {environment['elapsed_seconds']} s"
        )
    return 0


def judge_probes(figures: list[PathFigures]) -> list[PathFigures]:
    by_name = {row.name: row for row in figures}
    baseline = by_name["baseline"].cpu_ms.mean
    strict = by_name["baseline-cached"].cpu_ms.mean
    judged = []
    for row in figures:
        if row.role == "baseline":
            judged.append(row)
            continue
        ratio = row.cpu_ms.mean / baseline
        judged.append(
            dataclasses.replace(
                row,
                cpu_ratio=ratio,
                cpu_ratio_strict=row.cpu_ms.mean / strict,
                cpu_ratio_p50=row.cpu_ms.p50 / by_name["baseline"].cpu_ms.p50,
                target_met=(ratio <= CPU_TARGET and row.failures == 0)
                if row.role == "monitor"
                else None,
            )
        )
    return judged


def run_passes(
    args: argparse.Namespace,
    root: Path,
    endpoints: Endpoints,
    simulator: SimulatorProcess,
    certificates: Certificates,
    n: int,
    concurrency: int,
) -> list[PassFigures]:
    latency = args.latency_ms / 1000
    paths: list[tuple[Literal["baseline", "baseline-cached", "monitor"], Kind]] = [
        ("baseline", "client_secret")
    ]
    if args.cached_baseline == "every" or (
        args.cached_baseline == "smallest" and n == min(args.identities)
    ):
        paths.append(("baseline-cached", "client_secret"))
    smallest = min(args.identities)
    paths.extend(
        ("monitor", kind)
        for kind in args.pass_kind
        if kind == "client_secret" or n == smallest or not args.others_at_smallest_only
    )
    done: list[PassFigures] = []
    for path, kind in paths:
        config_path = root / f"pass-{kind}-{n}-{concurrency}.toml"
        if path == "monitor":
            write_config(
                config_path,
                endpoints,
                [(kind, index) for index in range(n)],
                certificates,
                concurrency,
            )
        profile = (
            str(args.profile / f"pass-{path}-{kind}-{n}-{concurrency}.pstats")
            if args.profile is not None
            else None
        )
        spec = PassSpec(
            path=path,
            kind=kind,
            identities=n,
            concurrency=concurrency,
            latency_seconds=latency,
            config_path=str(config_path),
            endpoints=endpoints,
            log_level=args.log_level,
            profile_path=profile,
        )
        log(f"pass: {path} {kind} N={n} concurrency={concurrency} ...")
        simulator.reset_counters()
        figures = run_pass_in_worker(spec)
        requests_made = simulator.request_count()
        per_probe = requests_made / max(n, 1)
        done.append(
            dataclasses.replace(
                figures,
                requests=requests_made,
                requests_per_probe=per_probe,
                ideal_seconds=n * latency * per_probe / concurrency,
            )
        )
        if profile is not None:
            buffer = io.StringIO()
            pstats.Stats(profile, stream=buffer).sort_stats("tottime").print_stats(25)
            log(f"--- profile of pass {path} {kind} N={n} (wall clock) ---\n{buffer.getvalue()}")
    baseline = next(row for row in done if row.path == "baseline")
    cached = next((row for row in done if row.path == "baseline-cached"), None)
    judged: list[PassFigures] = []
    for row in done:
        if row.path != "monitor":
            judged.append(row)
            continue
        ratio = row.wall_seconds / baseline.wall_seconds
        judged.append(
            dataclasses.replace(
                row,
                ratio=ratio,
                ratio_strict=row.wall_seconds / cached.wall_seconds if cached else None,
                target_met=ratio <= PASS_TARGET and row.probes_ok == row.results,
            )
        )
    return judged


if __name__ == "__main__":
    raise SystemExit(main())
